"""An independent PyTorch implementation of dnas's DARTS first-order search on Fashion-MNIST, with
the settings of dnas's `split` experiment (variant 'darts 0.5'), to cross-check dnas's accuracy
and its search-step speed (bench/darts-search.ts is the dnas side of the timing).

The dnas run it mirrors:
  node bin/dnas.js search --dataset fashion-mnist --size 16x16 --train-subset 1024 --val-subset 512 \
    --space darts --channels 8 --layers 5 --nodes 4 --batch-size 32 --strategy two-stage \
    --warmup-epochs 0 --freeze-epoch 8 --epochs 12 --split darts --arch-fraction 0.5 --seed S --out DIR
of which only the search (epochs 1-8) is reproduced here: at epoch 8 dnas decodes the cell and
trains a fresh network for the last 4 epochs, which this script does not do.

What is reproduced (read from src/search/trainer.ts, strategies.ts, data.ts, src/data/*.ts):
  * data: the first 1024 training images and the first 512 test images (validation), resized
    28x28 -> 16x16 bilinearly (half-pixel centres, no antialias: F.interpolate with
    align_corners=False), scaled to [0, 1], normalised (x - 0.286) / 0.353; no augmentation.
  * split 'darts', archFraction 0.5: one fixed random permutation per seed, 512 samples for the
    architecture step, 512 for the weights (a torch permutation, not dnas's generator).
  * supernet: DartsNetwork of bench/reference/supernets.py (C 8, 5 cells, 4 nodes, stem
    multiplier 3, 1 input channel, 10 classes, the 8 DARTS primitives, alphas 1e-3 * randn,
    softmax relaxation, BatchNorm of the search cells affine=False, BN after the pools).
  * each epoch e of the search: the weight half shuffled into batches of 32 (16 steps); the
    architecture batches come from passes over the shuffled architecture half, the passes
    restarting at every epoch (as dnas: 16 architecture batches = exactly one pass here).
    Step i: lr = minLr + (lr0 - minLr) (1 + cos(pi p)) / 2, p = (e + i / 16) / 12 (the cosine
    spans the whole 12-epoch run); then
      1. architecture step: train-mode forward of the architecture batch (it also updates the
         BatchNorm running statistics, as in dnas), cross entropy, gradients w.r.t. the alphas
         only (torch.autograd.grad), Adam(lr 3e-3, betas (0.5, 0.999), weight_decay 1e-3 as an
         L2 term: torch.optim.Adam) step;
      2. weight step: gradients set to none, forward of the weight batch, cross entropy, backward
         (it also fills the alphas' .grad, which the next architecture step overwrites, as in
         dnas), clip_grad_norm_(weights, 5), SGD(momentum 0.9, weight_decay 3e-4) step.
  * after each epoch: top-1 accuracy of the supernet on the 512 validation images in eval mode
    (BatchNorm running statistics); and, as dnas records them, the accuracy of the network
    decoded by the DARTS rule (2 strongest inputs per node, strongest non-'none' op on each,
    from softmax(alpha)) run with the supernet's own modules and statistics ("derived"), and the
    same after re-estimating its BatchNorm statistics on 4 training batches ("derived_recal").

Usage:
  /usr/bin/python3 bench/reference/darts_search.py train --seed S --threads T [--epochs 8] --out FILE.json
      the search; writes {"settings", "seed", "threads", "epochs": [{"epoch", "accuracy",
      "train_loss", "seconds", ...}], "step_ms_median", ...} to FILE.json
  /usr/bin/python3 bench/reference/darts_search.py time --threads T --steps N
      times the search step (architecture step + weight step) on fixed random batches
      (32x1x16x16); prints one JSON line {"step_ms": median, "min_ms": min, "times": [...], ...}
  /usr/bin/python3 bench/reference/darts_search.py check-data FILE.json
      compares this script's resized training/validation images and labels with those written by
      bench/darts-search.ts from dnas's getDataset; prints one JSON line
  /usr/bin/python3 bench/reference/darts_search.py check-step STATE.pt RESULT.pt
      loads dnas's supernet state, alphas and batches (STATE.pt, written by bench/darts-search.ts),
      runs the same search steps and compares the weights, BN buffers and alphas after them with
      dnas's (RESULT.pt); prints one JSON line
"""
import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from supernets import PRIMITIVES, DartsNetwork  # noqa: E402

DATA_DIR = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.286, 0.353  # FASHION_MNIST_STATS of src/data/fashion.ts
IGNORE_INDEX = 255  # dnas passes it to every cross entropy (no effect on classification)

SETTINGS = {
    'dataset': 'fashion-mnist', 'size': [16, 16], 'train_subset': 1024, 'val_subset': 512,
    'space': 'darts', 'channels': 8, 'layers': 5, 'nodes': 4, 'stem_multiplier': 3, 'in_channels': 1,
    'num_classes': 10, 'ops': PRIMITIVES, 'alpha_init_scale': 1e-3, 'relaxation': 'softmax',
    'batch_size': 32, 'split': 'darts', 'arch_fraction': 0.5,
    'search_epochs': 8, 'schedule_epochs': 12,
    'lr': 0.05, 'min_lr': 0.001, 'lr_schedule': 'cosine', 'momentum': 0.9, 'weight_decay': 3e-4, 'grad_clip': 5.0,
    'arch_lr': 3e-3, 'arch_betas': [0.5, 0.999], 'arch_weight_decay': 1e-3,
    'bn_recalib_batches': 4,
}


# ---- data ----------------------------------------------------------------------------------------
def read_idx(path):
    """An IDX file (gzip) as a numpy array of unsigned bytes."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(which, n, size):
    """The first n images of 'train' or 't10k', resized to size, in [0, 1] (not normalised), and labels."""
    images = read_idx(os.path.join(DATA_DIR, f'{which}-images-idx3-ubyte.gz'))[:n]
    labels = read_idx(os.path.join(DATA_DIR, f'{which}-labels-idx1-ubyte.gz'))[:n]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if list(x.shape[2:]) != list(size):
        x = F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)
    return x.contiguous(), torch.from_numpy(labels.astype(np.int64))


def load_data(s=SETTINGS):
    xt, yt = load_split('train', s['train_subset'], s['size'])
    xv, yv = load_split('t10k', s['val_subset'], s['size'])
    return (xt - MEAN) / STD, yt, (xv - MEAN) / STD, yv


# ---- the supernet and its pieces ---------------------------------------------------------------
def make_net(s=SETTINGS):
    return DartsNetwork(C=s['channels'], layers=s['layers'], nodes=s['nodes'], in_channels=s['in_channels'],
                        num_classes=s['num_classes'], stem_multiplier=s['stem_multiplier'], ops=s['ops'])


def arch_params(net):
    return [net.alphas_normal, net.alphas_reduce]


def make_optimizers(net, s=SETTINGS):
    wopt = torch.optim.SGD(net.parameters(), lr=s['lr'], momentum=s['momentum'], weight_decay=s['weight_decay'])
    aopt = torch.optim.Adam(arch_params(net), lr=s['arch_lr'], betas=tuple(s['arch_betas']), weight_decay=s['arch_weight_decay'])
    return wopt, aopt


def loss_fn(logits, y):
    return F.cross_entropy(logits, y, ignore_index=IGNORE_INDEX)


def search_step(net, wopt, aopt, weights, lr, xa, ya, xw, yw, s=SETTINGS):
    """One step of dnas's search loop: the first-order architecture step, then the weight step."""
    for g in wopt.param_groups:
        g['lr'] = lr
    alphas = arch_params(net)
    # architecture step (strategies.ts firstOrder)
    aopt.zero_grad(set_to_none=True)
    la = loss_fn(net(xa), ya)
    grads = torch.autograd.grad(la, alphas, allow_unused=True)
    for a, g in zip(alphas, grads):
        a.grad = g
    aopt.step()
    # weight step (trainer.ts trainEpoch)
    wopt.zero_grad(set_to_none=True)
    lw = loss_fn(net(xw), yw)
    lw.backward()
    if s['grad_clip'] > 0:
        torch.nn.utils.clip_grad_norm_(weights, s['grad_clip'])
    wopt.step()
    return float(la), float(lw)


def lr_at(e, s=SETTINGS):
    """Cosine over the whole schedule (trainer.ts lrAt): e is the fractional epoch."""
    p = min(1.0, max(0.0, e / s['schedule_epochs']))
    return s['min_lr'] + (s['lr'] - s['min_lr']) * (1 + math.cos(math.pi * p)) / 2


# ---- decoding and the derived network ------------------------------------------------------------
def edge_index(num_inputs, node, inp):
    return sum(num_inputs + n for n in range(node)) + inp


def decode_cell(w, ops, num_inputs, nodes):
    """The DARTS rule on softmax(alpha) rows w (genotype.ts decodeCell): per node the strongest
    non-'none' op of each input edge (ties: lower column), the 2 strongest edges (ties: lower input)."""
    usable = [k for k, o in enumerate(ops) if o != 'none']
    gene = []
    for i in range(nodes):
        best = []
        for j in range(num_inputs + i):
            row = w[edge_index(num_inputs, i, j)]
            k = usable[0]
            for c in usable:
                if row[c] > row[k]:
                    k = c
            best.append((j, k, row[k]))
        kept = sorted(best, key=lambda t: (-t[2], t[0]))[:min(2, num_inputs + i)]
        gene.append([(ops[k], j) for (j, k, _) in kept])
    return gene  # one list of (op, input) per node


def decode(net, s=SETTINGS):
    with torch.no_grad():
        out = {}
        for label, a in (('normal', net.alphas_normal), ('reduce', net.alphas_reduce)):
            out[label] = decode_cell(a.softmax(-1).tolist(), s['ops'], 2, s['nodes'])
    return out


def is_reduction(net, cell):
    return cell.ops[0].group is net.g_reduce


def derived_modules(net, genes):
    """The modules the derived network runs (shared with the supernet)."""
    mods = [net.stem, net.classifier]
    for cell in net.cells:
        mods += cell.preprocess
        for node, edges in enumerate(genes['reduce' if is_reduction(net, cell) else 'normal']):
            for op, j in edges:
                mods.append(cell.ops[edge_index(2, node, j)]._modules[op])
    return mods


def derived_forward(net, genes, x):
    """The discrete network of `genes` made of the supernet's modules (space/darts.ts derive):
    on each kept edge the chosen candidate, unweighted; every node concatenated."""
    s0 = net.stem(x)
    s1 = s0
    for cell in net.cells:
        gene = genes['reduce' if is_reduction(net, cell) else 'normal']
        states = [cell.preprocess[0](s0), cell.preprocess[1](s1)]
        for node, edges in enumerate(gene):
            acc = None
            for op, j in sorted(edges, key=lambda t: t[1]):
                y = cell.ops[edge_index(2, node, j)]._modules[op](states[j])
                acc = y if acc is None else acc.add(y)
            states.append(acc)
        s0, s1 = s1, torch.cat(states[2:], 1)
    return net.classifier(net.global_pooling(s1).flatten(1))


def evaluate(net, forward, x, y, batch):
    """Top-1 accuracy and mean loss in eval mode, batches in order (evaluate.ts)."""
    was = net.training
    net.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = forward(x[i:i + batch])
            loss_sum += float(loss_fn(out, y[i:i + batch])) * out.shape[0]
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    net.train(was)
    return correct / len(x), loss_sum / len(x)


def with_recalibrated_bn(net, genes, batches, fn):
    """Re-estimates the BN statistics of the derived path (cumulative average), runs fn, restores them."""
    bns = [m for mod in derived_modules(net, genes) for m in mod.modules() if isinstance(m, nn.BatchNorm2d) and m.track_running_stats]
    bns = list({id(b): b for b in bns}.values())
    saved = [(b.running_mean.clone(), b.running_var.clone(), b.num_batches_tracked.clone(), b.momentum) for b in bns]
    was = net.training
    try:
        for b in bns:
            b.reset_running_stats()
            b.momentum = None
        net.train()
        with torch.no_grad():
            for xb in batches:
                derived_forward(net, genes, xb)
        net.train(was)
        return fn()
    finally:
        for b, (m, v, n, mom) in zip(bns, saved):
            b.running_mean.copy_(m)
            b.running_var.copy_(v)
            b.num_batches_tracked.copy_(n)
            b.momentum = mom
        net.train(was)


# ---- modes ------------------------------------------------------------------------------------------
def train(args):
    s = dict(SETTINGS)
    s['search_epochs'] = args.epochs
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_load = time.perf_counter()
    xt, yt, xv, yv = load_data(s)
    load_s = time.perf_counter() - t_load
    net = make_net(s)
    net.train()
    weights = list(net.parameters())
    wopt, aopt = make_optimizers(net, s)
    gen = torch.Generator().manual_seed(1000 + args.seed)  # data order and split, apart from the model's RNG
    n = len(xt)
    perm = torch.randperm(n, generator=gen)
    k = min(n - 1, max(1, round(n * s['arch_fraction'])))
    arch_idx = perm[:k].sort().values
    weight_idx = perm[k:].sort().values
    B = s['batch_size']
    steps = math.ceil(len(weight_idx) / B)
    epochs, all_steps = [], []
    t_run = time.perf_counter()
    for e in range(s['search_epochs']):
        t0 = time.perf_counter()
        order = weight_idx[torch.randperm(len(weight_idx), generator=gen)]
        arch_batches = []  # the architecture passes restart at every epoch (trainer.ts)

        def next_arch():
            if not arch_batches:
                o = arch_idx[torch.randperm(len(arch_idx), generator=gen)]
                arch_batches.extend(o[i:i + B] for i in range(0, len(o), B))
            return arch_batches.pop(0)
        lsum, asum = 0.0, 0.0
        for i in range(steps):
            wb = order[i * B:(i + 1) * B]
            ab = next_arch()
            lr = lr_at(e + i / steps, s)
            ts = time.perf_counter()
            la, lw = search_step(net, wopt, aopt, weights, lr, xt[ab], yt[ab], xt[wb], yt[wb], s)
            all_steps.append((time.perf_counter() - ts) * 1e3)
            if not (math.isfinite(la) and math.isfinite(lw)):
                raise SystemExit(f'loss became {la}/{lw} at epoch {e + 1}, step {i + 1}')
            lsum += lw
            asum += la
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        acc, vloss = evaluate(net, net, xv, yv, B)
        genes = decode(net, s)
        dfwd = lambda x: derived_forward(net, genes, x)  # noqa: E731
        dacc, _ = evaluate(net, dfwd, xv, yv, B)
        recal_order = torch.randperm(n, generator=gen)
        recal = [xt[recal_order[i * B:(i + 1) * B]] for i in range(s['bn_recalib_batches'])]
        racc = with_recalibrated_bn(net, genes, recal, lambda: evaluate(net, dfwd, xv, yv, B)[0])
        normal = genes['normal']
        skip = sum(op == 'skip_connect' for edges in normal for op, _ in edges) / sum(len(edges) for edges in normal)
        rec = {
            'epoch': e + 1, 'accuracy': acc, 'val_loss': vloss, 'train_loss': lsum / steps, 'arch_loss': asum / steps,
            'derived_accuracy': dacc, 'derived_recal_accuracy': racc, 'skip_share_normal': skip,
            'lr_last': lr, 'seconds': train_s, 'eval_seconds': time.perf_counter() - t1,
            'genotype': {k2: [[op, j] for edges in g for op, j in edges] for k2, g in genes.items()},
        }
        epochs.append(rec)
        print(f"epoch {e + 1}: train loss {rec['train_loss']:.4f}, val acc {acc * 100:.2f}% (derived {dacc * 100:.2f}%, "
              f"recal {racc * 100:.2f}%), skip share {skip * 100:.0f}%, {train_s:.1f} s", file=sys.stderr, flush=True)
    out = {
        'settings': s, 'seed': args.seed, 'threads': torch.get_num_threads(), 'epochs': epochs,
        'step_ms_median': statistics.median(all_steps) if all_steps else None,
        'step_ms_min': min(all_steps) if all_steps else None,
        'data_seconds': load_s, 'total_seconds': time.perf_counter() - t_run,
        'params': sum(p.numel() for p in weights), 'arch': sum(a.numel() for a in arch_params(net)),
        'torch': torch.__version__,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k2: out[k2] for k2 in ('seed', 'step_ms_median', 'total_seconds')} | {'accuracy': epochs[-1]['accuracy'] if epochs else None}))


def time_steps(args):
    s = SETTINGS
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = make_net(s)
    net.train()
    weights = list(net.parameters())
    wopt, aopt = make_optimizers(net, s)
    B, (H, W) = s['batch_size'], s['size']
    xa, xw = torch.randn(B, 1, H, W), torch.randn(B, 1, H, W)
    ya, yw = torch.randint(0, 10, (B,)), torch.randint(0, 10, (B,))
    step = lambda: search_step(net, wopt, aopt, weights, s['lr'], xa, ya, xw, yw, s)  # noqa: E731
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({'step_ms': statistics.median(times), 'min_ms': min(times), 'times': times,
                      'params': sum(p.numel() for p in weights), 'arch': sum(a.numel() for a in arch_params(net)),
                      'threads': torch.get_num_threads()}))


def check_data(args):
    with open(args.file) as f:
        d = json.load(f)
    res = {}
    for split, which in (('train', 'train'), ('val', 't10k')):
        idx = d[split]['indices']
        x, y = load_split(which, max(idx) + 1, d['size'])
        ref = torch.tensor(d[split]['images'], dtype=torch.float32).reshape(len(idx), 1, *d['size'])
        res[f'{split}_images'] = len(idx)
        res[f'{split}_max_abs_diff'] = float((x[idx] - ref).abs().max())
        res[f'{split}_labels_equal'] = y[idx].tolist() == d[split]['labels']
    print(json.dumps(res))


def check_step(args):
    torch.set_num_threads(1)
    st = torch.load(args.state)
    r = torch.load(args.result)
    net = make_net()
    net.load_state_dict(st['state'], strict=True)
    with torch.no_grad():
        for n, a in net.arch().items():
            a.copy_(st['arch'][n])
    net.train()
    weights = list(net.parameters())
    wopt, aopt = make_optimizers(net)
    losses = []
    for lr in st['lrs'].tolist():
        losses.append(search_step(net, wopt, aopt, weights, lr, st['xa'], st['ya'], st['xw'], st['yw']))
    rel = lambda a, b: float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))  # noqa: E731
    sd = net.state_dict()
    w_names = dict(net.named_parameters())
    w_rel = max(rel(sd[k], v) for k, v in r['state'].items() if k in w_names)
    b_rel = max(rel(sd[k], v) for k, v in r['state'].items() if k not in w_names)
    a_rel = max(rel(a, r['arch'][n]) for n, a in net.arch().items())
    moved = max(float((sd[k] - st['state'][k]).abs().max()) for k in w_names)
    print(json.dumps({
        'steps': len(losses), 'state_keys': len(r['state']), 'losses_torch': losses, 'losses_dnas': r['losses'].tolist(),
        'weights_max_rel_diff': w_rel, 'buffers_max_rel_diff': b_rel, 'alphas_max_rel_diff': a_rel,
        'weights_moved_max_abs': moved,
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='mode', required=True)
    t = sub.add_parser('train')
    t.add_argument('--seed', type=int, required=True)
    t.add_argument('--threads', type=int, default=1)
    t.add_argument('--epochs', type=int, default=SETTINGS['search_epochs'])
    t.add_argument('--out', required=True)
    m = sub.add_parser('time')
    m.add_argument('--threads', type=int, default=1)
    m.add_argument('--steps', type=int, default=10)
    m.add_argument('--warmup', type=int, default=1)
    c = sub.add_parser('check-data')
    c.add_argument('file')
    k = sub.add_parser('check-step')
    k.add_argument('state')
    k.add_argument('result')
    args = p.parse_args()
    {'train': train, 'time': time_steps, 'check-data': check_data, 'check-step': check_step}[args.mode](args)


if __name__ == '__main__':
    main()
