"""PyTorch side of bench/supernets.ts: the dnas DARTS supernet and segmentation lattice supernet,
written in plain PyTorch with the same structure, the same operations in the same order, the same
BatchNorm settings and the same state-dict names as dnas's DartsSpace / LatticeSpace (so that a
dnas state dict loads here with strict=True).

What is mirrored on purpose (it is what dnas computes, so both sides do the same work):
  * mixed op: w_k * op_k(x) summed over the candidates, the zero op ('none') skipped (it adds
    nothing); w = softmax(alpha) computed once per group and pass, each row split into
    one-element tensors (dnas ArchGroup.row);
  * input choice (lattice betas): softmax over the node's available inputs (-inf mask on the
    missing columns), weighted sum of the resampled inputs;
  * search-cell pooling followed by BatchNorm(affine=False); every ReLU out of place;
  * FactorizedReduce pads one row/column then shifts by narrow (dnas's odd-size-safe form);
  * the lattice runs its nodes lazily from the output backwards, memoised, in dnas's order.

Usage:
  /usr/bin/python3 bench/reference/supernets.py time {darts|lattice} THREADS ITERS [nodes scales]
      prints one JSON line: {"step_ms": median, "min_ms": min, "params": n, "arch": n}
      (on DNAS_BENCH_DEVICE, default cpu; cuda synchronises around each step)
  /usr/bin/python3 bench/reference/supernets.py check {darts|lattice} STATE.pt RESULT.pt [nodes scales]
      loads the dnas weights (STATE.pt: {"state", "arch", "x", "y"}), runs forward+backward in
      train mode, compares with the dnas output/loss/gradients in RESULT.pt, prints JSON.
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']


# ---- operations (src/space/ops.ts) -----------------------------------------------------------
class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        n, c, h, w = x.shape
        s = self.stride
        return x.new_zeros(n, c, math.ceil(h / s), math.ceil(w / s))


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=1, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        y = torch.relu(x)
        h, w = y.shape[2], y.shape[3]
        shifted = F.pad(y, [0, 1, 0, 1]).narrow(2, 1, h).narrow(3, 1, w)
        return self.bn(torch.cat([self.conv_1(y), self.conv_2(shifted)], 1))


def create_op(name, C, stride, affine):
    if name == 'none':
        return Zero(stride)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine)
    if name == 'sep_conv_3x3':
        return SepConv(C, C, 3, stride, 1, affine)
    if name == 'sep_conv_5x5':
        return SepConv(C, C, 5, stride, 2, affine)
    if name == 'dil_conv_3x3':
        return DilConv(C, C, 3, stride, 2, 2, affine)
    if name == 'dil_conv_5x5':
        return DilConv(C, C, 5, stride, 4, 2, affine)
    raise ValueError(name)


def create_search_op(name, C, stride):
    op = create_op(name, C, stride, False)
    return nn.Sequential(op, nn.BatchNorm2d(C, affine=False)) if 'pool' in name else op


# ---- relaxation (src/space/relaxation.ts: ArchGroup under 'softmax') ---------------------------
class ArchGroup:
    """softmax(alpha) once per pass; each row split into one-element weights when first read."""

    def __init__(self, param, counts):
        self.param = param
        width = param.shape[1]
        self.counts = counts
        self.mask = None
        if any(c != width for c in counts):
            self.mask = torch.arange(0, width, dtype=torch.float32).reshape(1, width).ge(torch.tensor(counts).reshape(len(counts), 1))
        self.w = None
        self.rows = {}

    def sample(self):
        logits = self.param.masked_fill(self.mask, -math.inf) if self.mask is not None else self.param
        self.w = logits.softmax(-1)
        self.rows = {}

    def row(self, r):
        parts = self.rows.get(r)
        if parts is None:
            parts = self.w.select(0, r).split(1)
            self.rows[r] = parts
        return parts


class MixedOp(nn.Module):
    """Candidates registered by name directly under the op (dnas names: ops.<k>.<op name>.*)."""

    def __init__(self, ops, C, stride, group, row):
        super().__init__()
        self.names = list(ops)
        for n in ops:
            self.add_module(n, create_search_op(n, C, stride))
        self.group, self.row = group, row

    def forward(self, x):
        w = self.group.row(self.row)
        acc = None
        for k, n in enumerate(self.names):
            if n == 'none':
                continue  # as dnas MixedOp.apply under softmax: the zero op adds nothing
            term = self._modules[n](x).mul(w[k])
            acc = term if acc is None else acc.add(term)
        return acc


class Cell(nn.Module):
    """A search cell (src/space/cell.ts): preprocess, one MixedOp per (node, input) edge, concat."""

    def __init__(self, C, stride, num_inputs, nodes, preprocess, ops, group):
        super().__init__()
        self.num_inputs, self.nodes = num_inputs, nodes
        for i, p in enumerate(preprocess):
            self.add_module(f'preprocess{i}', p)
        self.preprocess = list(preprocess)
        links, node_of, input_of = [], [], []
        row = 0
        for node in range(nodes):
            for inp in range(num_inputs + node):
                s = stride if inp < num_inputs else 1
                links.append(MixedOp(ops, C, s, group, row))
                node_of.append(node)
                input_of.append(inp)
                row += 1
        self.ops = nn.ModuleList(links)
        self.node_of, self.input_of = node_of, input_of

    def forward(self, *inputs):
        states = [self.preprocess[i](x) if i < len(self.preprocess) else x for i, x in enumerate(inputs)]
        k = 0
        for node in range(self.nodes):
            acc = None
            while k < len(self.node_of) and self.node_of[k] == node:
                y = self.ops[k](states[self.input_of[k]])
                if y is not None:
                    acc = y if acc is None else acc.add(y)
                k += 1
            states.append(acc)
        out = states[self.num_inputs:]
        return out[0] if len(out) == 1 else torch.cat(out, 1)


# ---- DARTS supernet (src/space/darts.ts) -------------------------------------------------------
class DartsNetwork(nn.Module):
    def __init__(self, C=16, layers=8, nodes=4, in_channels=3, num_classes=10, stem_multiplier=3, ops=PRIMITIVES):
        super().__init__()
        c = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        red = [layers // 3, (2 * layers) // 3]
        n_edges = sum(2 + i for i in range(nodes))
        # architecture parameters: plain leaf tensors, kept out of the state dict (as in dnas)
        self.alphas_normal = (1e-3 * torch.randn(n_edges, len(ops))).requires_grad_()
        self.alphas_reduce = (1e-3 * torch.randn(n_edges, len(ops))).requires_grad_()
        self.g_normal = ArchGroup(self.alphas_normal, [len(ops)] * n_edges)
        self.g_reduce = ArchGroup(self.alphas_reduce, [len(ops)] * n_edges)
        cells = []
        cpp, cp, cc = c, c, C
        reduction_prev = False
        for i in range(layers):
            reduction = i in red
            if reduction:
                cc *= 2
            pre0 = FactorizedReduce(cpp, cc, False) if reduction_prev else ReLUConvBN(cpp, cc, 1, 1, 0, False)
            pre1 = ReLUConvBN(cp, cc, 1, 1, 0, False)
            cells.append(Cell(cc, 2 if reduction else 1, 2, nodes, [pre0, pre1], ops, self.g_reduce if reduction else self.g_normal))
            cpp, cp = cp, nodes * cc
            reduction_prev = reduction
        self.cells = nn.ModuleList(cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cp, num_classes)

    def arch(self):
        return {'alphas.normal': self.alphas_normal, 'alphas.reduce': self.alphas_reduce}

    def forward(self, x):
        self.g_normal.sample()
        self.g_reduce.sample()
        s0 = self.stem(x)
        s1 = s0
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))


# ---- segmentation lattice supernet (src/space/lattice*.ts) -------------------------------------
class Resample(nn.Module):
    def __init__(self, c_in, c_out, mode, affine):
        super().__init__()
        self.mode = mode
        self.op = ReLUConvBN(c_in, c_out, 3, 2, 1, affine) if mode == 'down' else ReLUConvBN(c_in, c_out, 1, 1, 0, affine)

    def forward(self, x, size):
        y = F.interpolate(x, size=size, mode='bilinear', align_corners=False) if self.mode == 'up' else x
        return self.op(y)


class ASPPLite(nn.Module):
    def __init__(self, c_in, c_mid, num_classes, rate):
        super().__init__()

        def cbr(cin, k, d):
            return nn.Sequential(nn.Conv2d(cin, c_mid, k, padding=0 if k == 1 else d, dilation=d, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU())
        self.branch1 = cbr(c_in, 1, 1)
        self.branch3 = cbr(c_in, 3, rate)
        self.pool = nn.Conv2d(c_in, c_mid, 1, bias=False)
        self.project = cbr(3 * c_mid, 1, 1)
        self.classifier = nn.Conv2d(c_mid, num_classes, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        g = self.pool(F.adaptive_avg_pool2d(x, 1)).relu()
        branches = [self.branch1(x), self.branch3(x), g.expand(n, g.shape[1], h, w)]
        return self.classifier(self.project(torch.cat(branches, 1)))


def weighted_inputs(group, row, inputs):
    """dnas InputChoice.contribution under softmax: sum_k w_k * input_k(), inputs computed lazily."""
    w = group.row(row)
    acc = None
    for k, v in enumerate(inputs):
        term = v().mul(w[k])
        acc = term if acc is None else acc.add(term)
    return acc


class LatticeNode(nn.Module):
    def __init__(self, layer, scale, sources, cell, resample, betas, row):
        super().__init__()
        self.layer, self.scale, self.sources = layer, scale, sources
        self.cell = cell
        self.resample = nn.ModuleList(resample)
        self.betas, self.row = betas, row

    def forward(self, value, size):
        inputs = [(lambda i=i, l=l, s=s: self.resample[i](value(l, s), size)) for i, (l, s) in enumerate(self.sources)]
        return self.cell(weighted_inputs(self.betas, self.row, inputs))


class LatticeNetwork(nn.Module):
    def __init__(self, layers=12, C=8, nodes=5, scales=4, in_channels=3, num_classes=19, ops=PRIMITIVES):
        super().__init__()
        self.L = layers
        ch = lambda s: nodes * C * 2 ** s
        stem_c = 2 * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(stem_c), nn.ReLU(),
            nn.Conv2d(stem_c, ch(0), 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(ch(0)))
        exists = lambda l, s: s == 0 if l == 0 else (1 <= l <= layers and 0 <= s <= min(l, scales - 1))
        scales_at = lambda l: [s for s in range(scales) if exists(l, s)]
        grid = [(l, s) for l in range(1, layers + 1) for s in scales_at(l)]
        sources = {(l, s): [(l - 1, t) for t in (s - 1, s, s + 1) if exists(l - 1, t)] for (l, s) in grid}
        n_edges = sum(1 + i for i in range(nodes))
        self.alphas_cell = (1e-3 * torch.randn(n_edges, len(ops))).requires_grad_()
        self.out_scales = scales_at(layers)
        beta_counts = [len(sources[p]) for p in grid] + [len(self.out_scales)]
        self.betas = (1e-3 * torch.randn(len(beta_counts), max(beta_counts))).requires_grad_()
        self.g_cell = ArchGroup(self.alphas_cell, [len(ops)] * n_edges)
        self.g_betas = ArchGroup(self.betas, beta_counts)
        mode = lambda a, b: 'down' if a < b else ('up' if a > b else 'same')
        self.nodes = nn.ModuleDict()
        for row, (l, s) in enumerate(grid):
            c = C * 2 ** s
            cell = Cell(c, 1, 1, nodes, [], ops, self.g_cell)
            res = [Resample(ch(f), c, mode(f, s), False) for (_, f) in sources[(l, s)]]
            self.nodes[f'l{l}s{s}'] = LatticeNode(l, s, sources[(l, s)], cell, res, self.g_betas, row)
        self.heads = nn.ModuleDict([(f's{s}', ASPPLite(ch(s), C * 2 ** s, num_classes, max(1, 12 >> s))) for s in self.out_scales])
        self.out_row = len(grid)

    def arch(self):
        return {'alphas.cell': self.alphas_cell, 'betas': self.betas}

    def forward(self, x):
        self.g_cell.sample()
        self.g_betas.sample()
        H, W = x.shape[2], x.shape[3]
        stem = self.stem(x)
        sizes = [(stem.shape[2], stem.shape[3])]
        for s in range(1, 8):
            sizes.append((math.ceil(sizes[s - 1][0] / 2), math.ceil(sizes[s - 1][1] / 2)))
        memo = {'l0s0': stem}

        def value(l, s):
            key = f'l{l}s{s}'
            v = memo.get(key)
            if v is None:
                v = self.nodes[key](value, sizes[s])
                memo[key] = v
            return v
        logits = [(lambda s=s: F.interpolate(self.heads[f's{s}'](value(self.L, s)), size=(H, W), mode='bilinear', align_corners=False))
                  for s in self.out_scales]
        return weighted_inputs(self.g_betas, self.out_row, logits)


# ---- the benchmark settings (bench/supernets.ts) -----------------------------------------------
def make(which, nodes=5, scales=4):
    if which == 'darts':
        net = DartsNetwork(C=8, layers=5, nodes=4, in_channels=1, num_classes=10)
        x = torch.randn(32, 1, 28, 28)
        y = torch.randint(0, 10, (32,))
    else:
        net = LatticeNetwork(layers=6, C=8, nodes=nodes, scales=scales, in_channels=3, num_classes=19)
        x = torch.randn(2, 3, 128, 256)
        y = torch.randint(0, 19, (2, 128, 256))
    return net, x, y


def weight_params(net):
    return list(net.named_parameters())


def main():
    mode, which = sys.argv[1], sys.argv[2]
    if mode == 'time':
        threads, iters = int(sys.argv[3]), int(sys.argv[4])
        extra = [int(v) for v in sys.argv[5:7]]
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        net, x, y = make(which, *extra)
        # DNAS_BENCH_DEVICE=cuda (scripts/gpu-check.sh): the same step on the GPU, synchronised.
        device = os.environ.get('DNAS_BENCH_DEVICE', 'cpu')
        net, x, y = net.to(device), x.to(device), y.to(device)
        # DNAS_BENCH_TORCH_MEMORY_FORMAT=channels-last: PyTorch's own channels-last (weights and input).
        if os.environ.get('DNAS_BENCH_TORCH_MEMORY_FORMAT') == 'channels-last':
            net = net.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
        net.train()
        params = list(net.parameters()) + list(net.arch().values())

        # DNAS_BENCH_PRECISION=bf16: the forward under autocast, logits cast to float32 for the loss.
        bf16 = os.environ.get('DNAS_BENCH_PRECISION', 'fp32') == 'bf16'
        device_type = 'cuda' if device.startswith('cuda') else 'cpu'

        def step():
            for p in params:
                p.grad = None
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                out = net(x)
            F.cross_entropy(out.float(), y).backward()
        step()
        sync()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            step()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({'step_ms': statistics.median(times), 'min_ms': min(times), 'times': times,
                          'params': sum(p.numel() for _, p in weight_params(net)),
                          'arch': sum(p.numel() for p in net.arch().values()), 'threads': torch.get_num_threads()}))
        return
    if mode == 'check':
        state_file, result_file = sys.argv[3], sys.argv[4]
        extra = [int(v) for v in sys.argv[5:7]]
        torch.set_num_threads(1)
        net, _, _ = make(which, *extra)
        st = torch.load(state_file)
        r = torch.load(result_file)
        missing, unexpected = net.load_state_dict(st['state'], strict=True)
        with torch.no_grad():
            for n, p in net.arch().items():
                p.copy_(st['arch'][n])
        net.train()
        out = net(st['x'])
        loss = F.cross_entropy(out, st['y'])
        loss.backward()
        rel = lambda a, b: float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
        wp = weight_params(net)
        grad_rel = max(rel(p.grad, r['grads'][n]) for n, p in wp)
        arch_rel = max(rel(p.grad, r['arch_grads'][n]) for n, p in net.arch().items())
        bufs = dict(net.named_buffers())
        buf_rel = max(rel(bufs[n].float(), t.float()) for n, t in r['buffers'].items())
        # The same, relative to the largest value over all tensors: a tensor whose values are all
        # near zero (a gradient through cancelling sums, the running mean of a normalised input)
        # has a large relative difference from any change of rounding, PyTorch's own channels-last
        # against its contiguous layout included.
        glob = lambda pairs: max(float((a - b).abs().max()) for a, b in pairs) / max(float(b.abs().max()) for _, b in pairs)
        grad_glob = glob([(p.grad, r['grads'][n]) for n, p in wp])
        buf_glob = glob([(bufs[n].float(), t.float()) for n, t in r['buffers'].items()])
        print(json.dumps({
            'state_keys': len(st['state']), 'module_state_keys': len(net.state_dict()),
            'params': sum(p.numel() for _, p in wp), 'arch': sum(p.numel() for p in net.arch().values()),
            'out_shape': list(out.shape), 'out_max_abs_diff': float((out - r['out']).abs().max()),
            'out_max_abs': float(r['out'].abs().max()),
            'loss_torch': float(loss), 'loss_dnas': float(r['loss']),
            'weight_grad_max_rel_diff': grad_rel, 'arch_grad_max_rel_diff': arch_rel,
            'buffers_after_max_rel_diff': buf_rel, 'grads_compared': len(wp),
            'weight_grad_diff_over_max': grad_glob, 'buffers_after_diff_over_max': buf_glob,
        }))
        return
    raise SystemExit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
