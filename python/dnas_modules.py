"""PyTorch definitions of dnas's search-space modules, for `dnas export --python`.

dnas copies the classes (and the helper functions) a network needs from this file into the
model.py it writes (see src/export/python.ts). Each starts at a marker line `# dnas: <Name>`, or
`# dnas: <Name> needs <Other>, ...` when it uses other classes or functions of this file, and runs
to the next marker. Everything above the first marker (this text and the imports) is not copied.

Each class has the structure, the state-dict names and the forward computation of its dnas
counterpart in src/space (the same operations in the same order, every ReLU out of place,
BatchNorm as configured), so that a dnas state dict loads with strict=True and the outputs agree
with dnas's to float rounding. The layers of torch.nn (Conv2d, BatchNorm2d, pools, Linear, ...)
are used as they are: dnas's own layers follow them.

This file is valid Python on its own (`python3 -c 'import dnas_modules'`), so it can be checked
and read like any other module; only torch is needed.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


# dnas: Zero
class Zero(nn.Module):
    """The zero operation ('none'): zeros shaped like the output of a `stride`-strided operation."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        n, c, h, w = x.shape
        s = self.stride
        return x.new_zeros(n, c, math.ceil(h / s), math.ceil(w / s))


# dnas: ReLUConvBN
class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d (DARTS `ReLUConvBN`); state keys op.1.*, op.2.*."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


# dnas: DilConv
class DilConv(nn.Module):
    """ReLU -> dilated depthwise Conv2d -> pointwise Conv2d -> BatchNorm2d (DARTS `DilConv`)."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, dilation, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


# dnas: SepConv
class SepConv(nn.Module):
    """Separable convolution, DARTS style: two ReLU -> depthwise -> pointwise -> BatchNorm blocks,
    the first one strided (DARTS `SepConv`; state keys op.1 ... op.7)."""

    def __init__(self, c_in, c_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, kernel_size, stride=1, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


# dnas: FactorizedReduce
class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 stride-2 convolutions, the second one on the input
    shifted by one pixel, concatenated, then BatchNorm (DARTS `FactorizedReduce`).

    The shift pads one row and column of zeros at the end first, so odd sizes give
    ceil(H / 2) x ceil(W / 2) like every other strided operation; for even sizes this is exactly
    the DARTS computation.
    """

    def __init__(self, c_in, c_out, affine=True):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        y = self.relu(x)
        h, w = y.shape[2], y.shape[3]
        shifted = F.pad(y, [0, 1, 0, 1]).narrow(2, 1, h).narrow(3, 1, w)
        return self.bn(torch.cat([self.conv_1(y), self.conv_2(shifted)], 1))


# dnas: MixedOp needs Zero
class MixedOp(nn.Module):
    """A layer choice frozen to its `selected` candidates: their outputs summed, in that order.

    The candidates are registered under their names (state keys <path>.<name>.*). Zero operations
    add nothing; when only zero operations (or nothing) are selected the output is zeros, shaped
    like the output of a `zero_stride`-strided operation.
    """

    def __init__(self, label, selected, candidates, zero_stride=1):
        super().__init__()
        self.label = label
        self.selected = list(selected)
        self.zero_stride = zero_stride
        for name, module in candidates.items():
            self.add_module(name, module)

    def contribution(self, *xs):
        """The sum of the selected candidates' outputs, or None when none adds anything."""
        acc = None
        for name in self.selected:
            op = self._modules[name]
            if isinstance(op, Zero):
                continue
            y = op(*xs)
            acc = y if acc is None else acc + y
        return acc

    def forward(self, *xs):
        y = self.contribution(*xs)
        if y is not None:
            return y
        n, c, h, w = xs[0].shape
        s = self.zero_stride
        return xs[0].new_zeros(n, c, math.ceil(h / s), math.ceil(w / s))


# dnas: PartialChannels
class PartialChannels(nn.Module):
    """A partial-channel connection (PC-DARTS): `op` runs on the first C/k channels, the others
    bypass it (max-pooled 3x3, stride 2, padding 1 on a strided edge), the two are concatenated and
    the channels shuffled in k groups (output channel o takes input (o % k) * (C / k) + o // k).
    State keys: <path>.op.*.
    """

    def __init__(self, op, C, k, stride=1):
        super().__init__()
        self.op = op
        self.C, self.k, self.stride = C, k, stride
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if stride == 2 else None
        cp = C // k
        self.register_buffer('shuffle', torch.tensor([(o % k) * cp + o // k for o in range(C)]), persistent=False)

    def contribution(self, x):
        """None for an edge whose frozen choice keeps nothing (it adds nothing, bypass included)."""
        if hasattr(self.op, 'selected') and not self.op.selected:
            return None
        return self.forward(x)

    def forward(self, x):
        cp = self.C // self.k
        x1, x2 = x.narrow(1, 0, cp), x.narrow(1, cp, self.C - cp)
        y2 = self.pool(x2) if self.pool is not None else x2
        y1 = self.op.contribution(x1) if hasattr(self.op, 'contribution') else self.op(x1)
        if y1 is None:
            y1 = y2.new_zeros(y2.shape[0], cp, y2.shape[2], y2.shape[3])
        return torch.cat([y1, y2], 1).index_select(1, self.shuffle)


# dnas: InputChoice
class InputChoice(nn.Module):
    """An input choice frozen to its `selected` inputs: their sum, in that order.

    An input may be a function (a lazy input): it is called only when selected.
    """

    def __init__(self, label, n_candidates, selected):
        super().__init__()
        self.label = label
        self.n_candidates = n_candidates
        self.selected = list(selected)

    def forward(self, inputs):
        terms = [inputs[k]() if callable(inputs[k]) else inputs[k] for k in self.selected]
        return sum(terms[1:], terms[0])  # left to right, as dnas adds


# dnas: Cell
class Cell(nn.Module):
    """A cell: a small DAG whose nodes each sum operations applied to earlier states.

    States 0 .. num_inputs - 1 are the cell inputs, each through its `preprocess` module when it
    has one; node i is state num_inputs + i. `edges` lists (node, input state, operation) in
    execution order (by node, then input); an operation is state key ops.<k> in that order. The
    output concatenates the states in `concat` along the channels. A node that no edge reaches
    (or whose edges are all zero operations) is zeros.
    """

    def __init__(self, C, stride, num_inputs, nodes, concat, preprocess, edges):
        super().__init__()
        self.C, self.stride, self.num_inputs, self.nodes = C, stride, num_inputs, nodes
        self.concat = list(concat)
        for i, module in enumerate(preprocess):
            self.add_module(f'preprocess{i}', module)
        self.num_preprocess = len(preprocess)
        self.links = [(node, state) for node, state, _ in edges]
        self.ops = nn.ModuleList([op for _, _, op in edges])

    def forward(self, *inputs):
        states = [getattr(self, f'preprocess{i}')(x) if i < self.num_preprocess else x for i, x in enumerate(inputs)]
        k = 0
        for node in range(self.nodes):
            acc = None
            while k < len(self.links) and self.links[k][0] == node:
                op, x = self.ops[k], states[self.links[k][1]]
                # A frozen MixedOp contributes None when only zero operations are selected.
                y = op.contribution(x) if hasattr(op, 'contribution') else op(x)
                if y is not None:
                    acc = y if acc is None else acc + y
                k += 1
            if acc is None:
                n, _, h, w = states[0].shape
                acc = states[0].new_zeros(n, self.C, math.ceil(h / self.stride), math.ceil(w / self.stride))
            states.append(acc)
        out = [states[i] for i in self.concat]
        return out[0] if len(out) == 1 else torch.cat(out, 1)


# dnas: Resample needs ReLUConvBN
class Resample(nn.Module):
    """Brings a lattice node's output to another scale and to the target cell's channels: a
    strided 3x3 ReLU-Conv-BN ('down', from the next finer scale), a 1x1 ReLU-Conv-BN ('same'), or
    bilinear resizing to the target size (align_corners=False) then a 1x1 ReLU-Conv-BN ('up' from
    the next coarser scale, 'resize' from any scale)."""

    def __init__(self, c_in, c_out, mode, affine):
        super().__init__()
        self.mode = mode
        if mode == 'down':
            self.op = ReLUConvBN(c_in, c_out, 3, 2, 1, affine)
        else:
            self.op = ReLUConvBN(c_in, c_out, 1, 1, 0, affine)

    def forward(self, x, size):
        if self.mode in ('up', 'resize'):
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return self.op(x)


# dnas: ASPPLite
class ASPPLite(nn.Module):
    """The decoder head of one scale: a 1x1 branch, a dilated 3x3 branch and an image-pooling
    branch, concatenated, projected by a 1x1 Conv-BN-ReLU, then a 1x1 classifier (with bias)."""

    def __init__(self, c_in, c_mid, num_classes, rate):
        super().__init__()

        def conv_bn_relu(cin, k, d):
            conv = nn.Conv2d(cin, c_mid, k, padding=0 if k == 1 else d, dilation=d, bias=False)
            return nn.Sequential(conv, nn.BatchNorm2d(c_mid), nn.ReLU())

        self.branch1 = conv_bn_relu(c_in, 1, 1)
        self.branch3 = conv_bn_relu(c_in, 3, rate)
        self.pool = nn.Conv2d(c_in, c_mid, 1, bias=False)
        self.project = conv_bn_relu(3 * c_mid, 1, 1)
        self.classifier = nn.Conv2d(c_mid, num_classes, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        g = torch.relu(self.pool(F.adaptive_avg_pool2d(x, 1)))
        branches = [self.branch1(x), self.branch3(x), g.expand(n, g.shape[1], h, w)]
        return self.classifier(self.project(torch.cat(branches, 1)))


# dnas: mix_inputs
def mix_inputs(sources, resample, choice, value, size):
    """The output of each node `sources[i]` brought to this scale by `resample[i]` (computed only
    when used), combined by a frozen `choice` or summed left to right, as dnas adds."""

    def resampled(i):
        layer, scale = sources[i]
        return lambda: resample[i](value(layer, scale), size)

    inputs = [resampled(i) for i in range(len(sources))]
    if choice is not None:
        return choice(inputs)
    terms = [f() for f in inputs]
    return sum(terms[1:], terms[0])


# dnas: LatticeNode needs mix_inputs
class LatticeNode(nn.Module):
    """Node (layer, scale) of the lattice: each input, the output of node `sources[i]`, brought
    to this node's scale by `resample[i]`; the inputs summed (or combined by a frozen
    `choice`); then the fusion lattice's `fuse` module, when it has one; then a one-input
    cell."""

    def __init__(self, layer, scale, sources, resample, cell, choice=None, fuse=None):
        super().__init__()
        self.layer, self.scale = layer, scale
        self.sources = [tuple(s) for s in sources]
        self.cell = cell
        self.resample = nn.ModuleList(resample)
        self.choice = choice
        self.fuse = fuse

    def forward(self, value, size):
        """`value(l, s)` gives the output of node (l, s), computed on first use; `size` is (H, W) of this scale."""
        mixed = mix_inputs(self.sources, self.resample, self.choice, value, size)
        if self.fuse is not None:
            mixed = self.fuse(mixed)
        return self.cell(mixed)


# dnas: PathInput needs mix_inputs
class PathInput(nn.Module):
    """The second input of a two-input lattice cell: the state two layers back along the path
    the cell extends, each source node's output brought to the cell's scale by `resample[i]`;
    the sources summed (or combined by a frozen `choice`)."""

    def __init__(self, sources, resample, choice=None):
        super().__init__()
        self.sources = [tuple(s) for s in sources]
        self.resample = nn.ModuleList(resample)
        self.choice = choice

    def forward(self, value, size):
        return mix_inputs(self.sources, self.resample, self.choice, value, size)


# dnas: TwoInputNode needs PathInput
class TwoInputNode(nn.Module):
    """Node (layer, scale) of the two-input lattice: for each input `sources[k]` (a node of the
    previous layer), a two-input cell on (the second input `prev[k]`, that node's output brought
    to this scale by `resample[k]`); the cells' outputs summed (or combined by a frozen
    `choice`)."""

    def __init__(self, layer, scale, sources, resample, cells, prev, choice=None):
        super().__init__()
        self.layer, self.scale = layer, scale
        self.sources = [tuple(s) for s in sources]
        self.resample = nn.ModuleList(resample)
        self.cells = nn.ModuleList(cells)
        self.prev = nn.ModuleList(prev)
        self.choice = choice

    def forward(self, value, size):
        def output(k):
            layer, scale = self.sources[k]
            return lambda: self.cells[k](self.prev[k](value, size), self.resample[k](value(layer, scale), size))

        outputs = [output(k) for k in range(len(self.sources))]
        if self.choice is not None:
            return self.choice(outputs)
        terms = [f() for f in outputs]
        return sum(terms[1:], terms[0])


# dnas: LatticeNetwork
class LatticeNetwork(nn.Module):
    """The multi-scale segmentation lattice: a stem to 1/4 of the input size (node l0s0), nodes
    `l<layer>s<scale>` whose scale s has ceil-halved sizes (ceil(size(s - 1) / 2)), and one ASPP
    head per output scale ('s<scale>') on the last layer, its logits upsampled bilinearly to the
    input size; the heads summed (or combined by a frozen `output` choice).

    Nodes run lazily from the output backwards, each at most once, so only the nodes the output
    depends on are computed.
    """

    def __init__(self, layers, stem, nodes, heads, output=None):
        super().__init__()
        self.layers = layers
        self.stem = stem
        self.nodes = nn.ModuleDict(nodes)
        self.heads = nn.ModuleDict(heads)
        self.output_scales = [int(key[1:]) for key in heads]
        self.output = output

    def forward(self, x):
        H, W = x.shape[2], x.shape[3]
        stem = self.stem(x)
        sizes = [(stem.shape[2], stem.shape[3])]
        for _ in range(7):
            h, w = sizes[-1]
            sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
        memo = {'l0s0': stem}

        def value(layer, scale):
            key = f'l{layer}s{scale}'
            if key not in memo:
                memo[key] = self.nodes[key](value, sizes[scale])
            return memo[key]

        def logits(scale):
            head = self.heads[f's{scale}']
            return lambda: F.interpolate(head(value(self.layers, scale)), size=(H, W), mode='bilinear', align_corners=False)

        outputs = [logits(s) for s in self.output_scales]
        if self.output is not None:
            return self.output(outputs)
        terms = [f() for f in outputs]
        return sum(terms[1:], terms[0])


# dnas: DartsNetwork
class DartsNetwork(nn.Module):
    """The DARTS network: a stem, cells that each take the outputs of the two previous cells,
    global average pooling and a linear classifier."""

    def __init__(self, stem, cells, global_pooling, classifier):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(cells)
        self.global_pooling = global_pooling
        self.classifier = classifier

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))
