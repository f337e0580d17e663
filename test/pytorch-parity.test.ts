/**
 * Parity with PyTorch itself (test/reference/parity.py run by /usr/bin/python3): the same network
 * with the same weights and input gives the same loss, logits, parameter gradients and BatchNorm
 * buffers; SGD and Adam take the same steps; checkpoints cross between the two in both directions.
 * Skipped, with the reason, where Python has no torch.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as torch from '../src/torch';
import type { Tensor } from '../src/torch';
import { maxDiff, pythonSkipReason, runPython, tempDir } from './helpers';

torch.setNumThreads(1);
const { nn, optim } = torch;
const F = nn.functional;
const skip = pythonSkipReason();
const dir = skip ? '' : tempDir('dnas-parity-');
const TOL = 1e-5;

/** The network of parity.py's make_net(), with the same module indices. */
function makeNet(): InstanceType<typeof nn.Sequential> {
  return new nn.Sequential(
    new nn.Conv2d(3, 6, 3, { padding: 1 }),
    new nn.BatchNorm2d(6),
    new nn.ReLU(),
    new nn.Conv2d(6, 6, 3, { padding: 2, dilation: 2, groups: 2, bias: false }),
    new nn.BatchNorm2d(6),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 4, 1),
  );
}

function lossOf(net: InstanceType<typeof nn.Sequential>, x: Tensor, y: Tensor, weight: Tensor): { loss: Tensor; logits: Tensor } {
  const logits = F.interpolate(net.forward(x), [x.size(2), x.size(3)], { mode: 'bilinear' });
  return { loss: F.crossEntropy(logits, y, { weight, ignoreIndex: 255 }), logits };
}

/** Input, targets (some ignored) and class weights, from the seeded generator. */
function batch(): { x: Tensor; y: Tensor; weight: Tensor } {
  return torch.tidy(() => {
    const x = torch.randn([2, 3, 8, 8]);
    const labels = torch.randint(0, 4, [2, 8, 8]);
    const ignore = torch.rand([2, 8, 8]).lt(0.2);
    const y = torch.where(ignore, torch.fullLike(labels, 255), labels);
    return { x, y, weight: torch.tensor([1, 0.5, 2, 1.5]) };
  });
}

let worst = 0;
function assertNear(name: string, a: Tensor, b: Tensor, tol = TOL): void {
  assert.deepEqual(a.shape, b.shape, `${name}: shape`);
  const d = maxDiff(a.toArray(), b.toArray());
  worst = Math.max(worst, d);
  assert.ok(d <= tol, `${name}: max |dnas - PyTorch| = ${d.toExponential(2)} > ${tol}`);
}

test('same network, weights and input: loss, logits, every gradient and BN buffers match PyTorch', { skip }, (t) => {
  torch.tidy(() => {
    torch.manualSeed(0);
    const net = makeNet();
    const { x, y, weight } = batch();
    const src = path.join(dir, 'net-in.pt');
    const dst = path.join(dir, 'net-out.pt');
    torch.save({ state: net.stateDict(), x, y, weight }, src); // saved before the forward moves the BN buffers
    const { loss, logits } = lossOf(net, x, y, weight);
    loss.backward();
    runPython('parity.py', ['net', src, dst]);
    const ref = torch.load<{ loss: number; logits: Tensor; grads: Record<string, Tensor>; buffers: Record<string, Tensor> }>(dst);
    assert.ok(Math.abs(loss.item() - ref.loss) <= TOL, `loss ${loss.item()} vs PyTorch ${ref.loss}`);
    assertNear('logits', logits, ref.logits);
    const params = net.namedParameters();
    assert.deepEqual(
      params.map(([n]) => n),
      Object.keys(ref.grads),
    );
    for (const [n, p] of params) assertNear(`grad of ${n}`, p.grad!, ref.grads[n]);
    const buffers = net.namedBuffers();
    assert.deepEqual(
      buffers.map(([n]) => n),
      Object.keys(ref.buffers),
    );
    for (const [n, b] of buffers) assertNear(`buffer ${n}`, b, ref.buffers[n]);
    t.diagnostic(`loss ${loss.item()} (PyTorch ${ref.loss}); largest difference over logits, gradients and buffers: ${worst.toExponential(2)}`);
    net.dispose();
  });
});

test('mixed precision: the same forward under autocast (bfloat16 on CPU) and backward match PyTorch', { skip }, (t) => {
  torch.tidy(() => {
    torch.manualSeed(3);
    const net = makeNet();
    const { x, y, weight } = batch();
    const src = path.join(dir, 'autocast-in.pt');
    const dst = path.join(dir, 'autocast-out.pt');
    torch.save({ state: net.stateDict(), x, y, weight }, src);
    const out = torch.autocast('cpu', () => net.forward(x) as Tensor);
    assert.equal(out.dtype, 'bfloat16');
    assert.equal(torch.isAutocastEnabled('cpu'), false, 'the region ends with the call');
    const logits = F.interpolate(out.to('float32'), [8, 8], { mode: 'bilinear' });
    const loss = F.crossEntropy(logits, y, { weight, ignoreIndex: 255 });
    loss.backward();
    runPython('parity.py', ['autocast', src, dst]);
    const ref = torch.load<{ loss: number; logits: Tensor; bf16: boolean; grads: Record<string, Tensor> }>(dst);
    assert.equal(ref.bf16, true);
    // The same bfloat16 kernels on both sides: agreement to float32 rounding, far below bfloat16's 2^-8.
    assert.ok(Math.abs(loss.item() - ref.loss) <= TOL, `loss ${loss.item()} vs PyTorch ${ref.loss}`);
    assertNear('logits (autocast)', logits, ref.logits);
    for (const [n, p] of net.namedParameters()) assertNear(`grad of ${n} (autocast)`, p.grad!, ref.grads[n]);
    t.diagnostic(`loss ${loss.item()} (PyTorch ${ref.loss})`);
    net.dispose();
  });
});

interface OptConfig {
  kind: 'sgd' | 'adam';
  lr: number;
  momentum: number;
  nesterov: boolean;
  weight_decay: number;
  betas: number[];
  eps: number;
  steps: number;
  checkpoint_at: number;
  /** Clip the gradients to this norm before each step (dnas: inside step(); PyTorch: clip_grad_norm_). */
  max_grad_norm?: number;
}

function makeOpt(net: InstanceType<typeof nn.Sequential>, c: OptConfig): InstanceType<typeof optim.SGD> | InstanceType<typeof optim.Adam> {
  return c.kind === 'sgd'
    ? new optim.SGD(net.parameters(), { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weight_decay })
    : new optim.Adam(net.parameters(), { lr: c.lr, betas: [c.betas[0], c.betas[1]], eps: c.eps, weightDecay: c.weight_decay });
}

function trainStep(
  net: InstanceType<typeof nn.Sequential>,
  opt: { zeroGrad(): void; step(o?: { maxGradNorm?: number }): number | null },
  x: Tensor,
  y: Tensor,
  weight: Tensor,
  norms: number[] = [],
  maxGradNorm?: number,
): number {
  opt.zeroGrad();
  const l = torch.tidy(() => {
    const loss = lossOf(net, x, y, weight).loss;
    loss.backward();
    return loss.item();
  });
  const norm = opt.step({ maxGradNorm });
  if (norm !== null) norms.push(norm);
  return l;
}

function optimizerParity(c: OptConfig): void {
  torch.tidy(() => {
    torch.manualSeed(1);
    const net = makeNet();
    const { x, y, weight } = batch();
    const src = path.join(dir, `${c.kind}-in.pt`);
    const dst = path.join(dir, `${c.kind}-out.pt`);
    torch.save({ state: net.stateDict(), x, y, weight, config: { ...c } }, src);
    const opt = makeOpt(net, c);
    const losses: number[] = [];
    const norms: number[] = [];
    for (let s = 0; s < c.steps; s++) losses.push(trainStep(net, opt, x, y, weight, norms, c.max_grad_norm));
    runPython('parity.py', ['optim', src, dst]);
    const ref = torch.load<{ losses: number[]; norms: number[]; params: Record<string, Tensor>; buffers: Record<string, Tensor> }>(dst);
    assert.ok(maxDiff(losses, ref.losses) <= TOL, `losses ${losses} vs PyTorch ${ref.losses}`);
    assert.equal(norms.length, ref.norms.length);
    assert.ok(maxDiff(norms, ref.norms) <= TOL, `gradient norms ${norms} vs PyTorch ${ref.norms}`);
    if (c.max_grad_norm) assert.ok(Math.max(...norms) > c.max_grad_norm, 'the clipping bound was reached');
    for (const [n, p] of net.namedParameters()) assertNear(`${c.kind}: ${n} after ${c.steps} steps`, p, ref.params[n]);
    for (const [n, b] of net.namedBuffers()) assertNear(`${c.kind}: buffer ${n} after ${c.steps} steps`, b, ref.buffers[n]);
    // The loss went down, so the steps did something.
    assert.ok(losses[losses.length - 1] < losses[0], `losses ${losses}`);

    // Resume from PyTorch's own checkpoint (plain dicts: model and optimizer state_dict()).
    const ckpt = torch.load<{ model: Record<string, Tensor>; optimizer: Parameters<typeof opt.loadStateDict>[0] }>(`${src}.ckpt`);
    torch.manualSeed(99);
    const net2 = makeNet();
    net2.loadStateDict(ckpt.model);
    const opt2 = makeOpt(net2, { ...c, lr: 1e-9 }); // the lr must come from the checkpoint
    opt2.loadStateDict(ckpt.optimizer);
    assert.equal(opt2.getLr(), c.lr);
    for (let s = c.checkpoint_at; s < c.steps; s++) trainStep(net2, opt2, x, y, weight, [], c.max_grad_norm);
    for (const [n, p] of net2.namedParameters()) assertNear(`${c.kind}: ${n} resumed from PyTorch's checkpoint`, p, ref.params[n]);
    net.dispose();
    net2.dispose();
  });
}

test('SGD with momentum, nesterov and weight decay takes the same steps as torch.optim.SGD', { skip }, () => {
  optimizerParity({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 1e-3, betas: [0.9, 0.999], eps: 1e-8, steps: 4, checkpoint_at: 2 });
});

test('SGD with the gradients clipped inside step() takes the steps of clip_grad_norm_ then torch.optim.SGD', { skip }, () => {
  optimizerParity({
    kind: 'sgd',
    lr: 0.1,
    momentum: 0.9,
    nesterov: false,
    weight_decay: 3e-4,
    betas: [0.9, 0.999],
    eps: 1e-8,
    steps: 4,
    checkpoint_at: 2,
    max_grad_norm: 0.05,
  });
});

test('Adam with the gradients clipped inside step() takes the steps of clip_grad_norm_ then torch.optim.Adam', { skip }, () => {
  optimizerParity({
    kind: 'adam',
    lr: 0.01,
    momentum: 0,
    nesterov: false,
    weight_decay: 1e-2,
    betas: [0.5, 0.999],
    eps: 1e-8,
    steps: 4,
    checkpoint_at: 2,
    max_grad_norm: 0.05,
  });
});

test('Adam with weight decay takes the same steps as torch.optim.Adam', { skip }, () => {
  optimizerParity({ kind: 'adam', lr: 0.01, momentum: 0, nesterov: false, weight_decay: 1e-2, betas: [0.5, 0.999], eps: 1e-8, steps: 4, checkpoint_at: 2 });
});

interface Described {
  [kind: string]: unknown;
}

test('a dnas checkpoint reads in Python as the same dict', { skip }, () => {
  torch.tidy(() => {
    const file = path.join(dir, 'from-dnas.pt');
    torch.save(
      {
        f32: torch.tensor([
          [1.5, -2],
          [3.25, 4],
        ]),
        f64: torch.tensor(new Float64Array([0.1])),
        i64: torch.tensor([5, -6], { dtype: 'int64' }),
        bool: torch.tensor([0, 1]).gt(0),
        view: torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).transpose(0, 1),
        epoch: 3,
        lr: 0.025,
        name: 'x',
        flag: true,
        none: null,
        list: [1, 'two', [3.5]],
        nested: { a: { b: torch.ones([2]) } },
      },
      file,
    );
    const json = path.join(dir, 'from-dnas.json');
    runPython('parity.py', ['inspect', file, json]);
    const d = JSON.parse(fs.readFileSync(json, 'utf8')) as Described;
    assert.deepEqual(d, {
      dict: {
        f32: { tensor: 'float32', shape: [2, 2], values: [1.5, -2, 3.25, 4] },
        f64: { tensor: 'float64', shape: [1], values: [0.1] },
        i64: { tensor: 'int64', shape: [2], values: [5, -6] },
        bool: { tensor: 'bool', shape: [2], values: [false, true] },
        view: { tensor: 'float32', shape: [3, 2], values: [0, 3, 1, 4, 2, 5] },
        epoch: { int: 3 },
        lr: { float: 0.025 },
        name: { str: 'x' },
        flag: { bool: true },
        none: { NoneType: null },
        list: { list: [{ int: 1 }, { str: 'two' }, { list: [{ float: 3.5 }] }] },
        nested: { dict: { a: { dict: { b: { tensor: 'float32', shape: [2], values: [1, 1] } }, keys: ['str'] } }, keys: ['str'] },
      },
      keys: new Array(12).fill('str'),
    });
  });
});

test('a plain dict saved by Python loads in dnas with the same values', { skip }, () => {
  torch.tidy(() => {
    const file = path.join(dir, 'from-python.pt');
    runPython('parity.py', ['write', '-', file]);
    const d = torch.load<Record<string, unknown>>(file);
    const t = (k: string) => d[k] as Tensor;
    assert.deepEqual([t('f32').dtype, t('f32').shape, t('f32').toArray()], ['float32', [2, 2], [1.5, -2, 3.25, 4]]);
    assert.deepEqual([t('f64').dtype, t('f64').toArray()], ['float64', [0.1, 0.2]]);
    assert.deepEqual([t('i64').dtype, t('i64').toArray()], ['int64', [1, -2, 3]]);
    assert.deepEqual([t('bool').dtype, t('bool').toArray()], ['bool', [1, 0]]);
    assert.deepEqual([t('u8').dtype, t('u8').toArray()], ['uint8', [0, 255]]);
    assert.deepEqual(
      [t('noncontig').shape, t('noncontig').toArray()],
      [
        [3, 2],
        [0, 3, 1, 4, 2, 5],
      ],
    );
    assert.deepEqual([t('scalar').shape, t('scalar').item()], [[], 7]);
    assert.equal(d.int, 3);
    assert.equal(d.float, 0.5);
    assert.equal(d.str, 'hello');
    assert.equal(d.none, null);
    assert.equal(d.flag, true);
    assert.deepEqual(d.list, [1, 2.5, 'x']);
    assert.deepEqual(d.tuple, [4, 5]);
    assert.deepEqual((d.nested as { a: { b: Tensor } }).a.b.toArray(), [1, 1]);
    // Single-item dicts and lists (pickle's SETITEM and APPEND, which libtorch 1.13 cannot read by itself).
    assert.deepEqual(d.one, [{ k: [[5]] }]);
    assert.deepEqual(d.shared, [{ x: [1] }, { x: [1] }, { again: { x: [1] } }]);
    const [t1, { t: t2 }] = d.same_tensor as [Tensor, { t: Tensor }];
    assert.deepEqual([t1.toArray(), t2.toArray()], [[9], [9]]);
    assert.ok(torch.sameStorage(t1, t2));
  });
});

test("Python's OrderedDict (model.state_dict()) gives the clear error, not a crash", { skip }, () => {
  const file = path.join(dir, 'ordered.pt');
  runPython('parity.py', ['ordered', '-', file]);
  assert.throws(
    () => torch.load(file),
    (e: Error) => {
      assert.match(e.message, /^load: cannot read '.*ordered\.pt' as a torch\.save file: /);
      assert.match(e.message, /The file holds an OrderedDict \(as model\.state_dict\(\) returns\); in Python, save dict\(model\.state_dict\(\)\) instead\./);
      return true;
    },
  );
  // The process is fine afterwards.
  torch.tidy(() => assert.equal(torch.ones([2]).sum().item(), 2));
});
