/**
 * Errors: libtorch's failures arrive as JavaScript Errors carrying libtorch's message (no C++
 * backtrace) and leave the process working; the TypeScript-side checks name the op and argument.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch';
import type { Tensor } from '../src/torch';

torch.setNumThreads(1);
const { nn, optim } = torch;
const F = nn.functional;
const I = (data: number[]) => torch.tensor(data, { dtype: 'int64' });

/** Asserts that fn throws an Error (of `cls`) whose message matches `re` and carries no C++ backtrace. */
function throwsLibtorch(fn: () => unknown, re: RegExp, cls: ErrorConstructor = Error): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected a ${cls.name}, got ${String(e)}`);
    const msg = (e as Error).message;
    assert.match(msg, re);
    assert.doesNotMatch(msg, /Exception raised from|frame #\d/);
    return true;
  });
}

/** The process (and the addon) still work: a small forward and backward. */
function stillWorks(): void {
  torch.tidy(() => {
    const w = torch.tensor([1, 2, 3], { requiresGrad: true });
    w.mul(w).sum().backward();
    assert.deepEqual(w.grad!.toArray(), [2, 4, 6]);
  });
  assert.equal(torch.memory().numScopes, 0);
}

test("shape mismatches throw libtorch's message", () => {
  torch.tidy(() => {
    const a = torch.randn([4, 3]);
    throwsLibtorch(() => a.add(torch.randn([5])), /The size of tensor a \(3\) must match the size of tensor b \(5\) at non-singleton dimension 1/);
    throwsLibtorch(() => a.matmul(torch.randn([4, 2])), /mat1 and mat2 shapes cannot be multiplied \(4x3 and 4x2\)/);
    throwsLibtorch(
      () => F.conv2d(torch.randn([1, 2, 5, 5]), torch.randn([3, 3, 3, 3])),
      /Given groups=1, weight of size \[3, 3, 3, 3\], expected input\[1, 2, 5, 5\] to have 3 channels, but got 2 channels instead/,
    );
    throwsLibtorch(() => torch.cat([a, torch.randn([2, 2])]), /Sizes of tensors must match except in dimension 0/);
    throwsLibtorch(() => torch.stack([a, torch.randn([3, 4])]), /stack expects each tensor to be equal size/);
    throwsLibtorch(() => a.view(6, 3), /shape '\[6, 3\]' is invalid for input of size 12/);
    throwsLibtorch(() => a.transpose(0, 1).view(12), /view size is not compatible with input tensor's size and stride/);
    throwsLibtorch(() => F.crossEntropy(torch.randn([2, 3]), I([0, 1, 2])), /Expected input batch_size \(2\) to match target batch_size \(3\)/);
    throwsLibtorch(() => a.sum(2), /Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)/);
    throwsLibtorch(() => a.sum([1, 1]), /dim 1 appears multiple times in the list of dims/);
  });
  stillWorks();
});

test("wrong dtypes throw libtorch's message", () => {
  torch.tidy(() => {
    const logits = torch.randn([4, 3]);
    throwsLibtorch(() => F.crossEntropy(logits, torch.tensor([0, 1, 2, 1])), /expected scalar type Long but found Float/);
    throwsLibtorch(() => F.nllLoss(logits, torch.tensor([0, 1, 2, 1], { dtype: 'int32' })), /expected scalar type Long but found Int/);
    throwsLibtorch(() => torch.tensor([1, 2], { dtype: 'int64' }).requiresGrad_(), /Only Tensors of floating point and complex dtype can require gradients/);
    throwsLibtorch(
      () => logits.matmul(torch.randn([3, 2], { dtype: 'float64' })),
      /expected (scalar type Float but found Double|m1 and m2 to have the same dtype)/,
    );
    throwsLibtorch(() => logits.indexSelect(0, torch.tensor([0, 1])), /index_select\(\): Expected dtype int(32 or int)?64 for index/);
    throwsLibtorch(
      () => torch.where(torch.tensor([1, 0]), torch.ones([2]), torch.zeros([2])),
      /where expected condition to be a boolean tensor, but got a tensor with dtype Float/,
    );
  });
  stillWorks();
});

test("out-of-range indices throw libtorch's message", () => {
  torch.tidy(() => {
    const x = torch.randn([3, 4]);
    throwsLibtorch(() => x.indexSelect(0, I([5])), /index out of range in self/);
    throwsLibtorch(() => x.indexSelect(1, I([-1])), /INDICES element is out of DATA bounds, id=-1 axis_dim=4/);
    throwsLibtorch(() => x.select(0, 3), /select\(\): index 3 out of range for tensor of size \[3, 4\] at dimension 0/);
    throwsLibtorch(() => x.narrow(1, 2, 3), /start \(2\) \+ length \(3\) exceeds dimension size \(4\)/);
    throwsLibtorch(() => x.gather(1, I([9, 9, 9]).reshape(3, 1)), /index 9 is out of bounds for dimension 1 with size 4/);
    throwsLibtorch(() => F.crossEntropy(x, I([0, 1, 7])), /Target 7 is out of bounds/);
    throwsLibtorch(() => F.oneHot(I([0, 3]), 3), /Class values must be smaller than num_classes/);
    throwsLibtorch(() => x.topk(5, 1), /selected index k out of range/);
  });
  stillWorks();
});

test('autograd misuse and other runtime failures', () => {
  torch.tidy(() => {
    const w = torch.tensor([1, 2], { requiresGrad: true });
    const y = w.mul(w).sum();
    y.backward();
    throwsLibtorch(() => y.backward(), /Trying to backward through the graph a second time/);
    throwsLibtorch(() => torch.ones([2]).sum().backward(), /element 0 of tensors does not require grad and does not have a grad_fn/);
    throwsLibtorch(() => w.mul(2).backward(), /backward: a gradient is needed for a tensor of 2 elements/);
    throwsLibtorch(
      () => torch.autograd.grad(w.sum(), [torch.ones([1], { requiresGrad: true })]),
      /One of the differentiated Tensors appears to not have been used in the graph/,
    );
    throwsLibtorch(() => torch.randn([3]).item(), /item: tensor has 3 elements; only a one-element tensor converts to a number/, RangeError);
    throwsLibtorch(() => torch.arange(0, 5, 0), /step must be nonzero/);
    throwsLibtorch(() => torch.randint(5, 5, [2]), /random_ expects 'from' to be less than 'to', but got from=5 >= to=5/);
    throwsLibtorch(() => torch.zeros([2, -1]), /Trying to create tensor with negative dimension -1/);
    throwsLibtorch(() => torch.ones([4]).reshape(-1, -1), /only one dimension can be inferred/);
    throwsLibtorch(
      () => F.crossEntropy(torch.randn([2, 3]), I([0, 1]), { reduction: 'avg' as 'mean' }),
      /reduction must be 'mean', 'sum' or 'none', got 'avg'/,
      RangeError,
    );
    throwsLibtorch(() => torch.setRngState(torch.ones([3])), /expected a torch.ByteTensor|RNG state/i);
  });
  stillWorks();
});

test('TypeScript-side checks name the op and the argument', () => {
  torch.tidy(() => {
    const x = torch.ones([2, 2]);
    const bad = (v: unknown) => v as Tensor;
    throwsLibtorch(() => F.conv2d(bad(null), x), /^conv2d: input must be a Tensor, got null$/, TypeError);
    throwsLibtorch(() => F.conv2d(x, bad([1, 2])), /^conv2d: weight must be a Tensor, got an array$/, TypeError);
    throwsLibtorch(() => F.conv2d(x, x, bad({})), /^conv2d: bias must be a Tensor, got Object$/, TypeError);
    throwsLibtorch(() => x.add(bad('a')), /^add: argument 'other' must be a Tensor, got string$/, TypeError);
    throwsLibtorch(() => x.matmul(bad(undefined)), /^matmul: argument 'other' must be a Tensor, got undefined$/, TypeError);
    throwsLibtorch(() => x.indexSelect(0, bad(3)), /^indexSelect: argument 'index' must be a Tensor, got number$/, TypeError);
    throwsLibtorch(() => F.crossEntropy(x, bad([0, 1])), /^crossEntropy: target must be a Tensor, got an array$/, TypeError);
    throwsLibtorch(() => F.batchNorm(x, bad(1), null), /^batchNorm: runningMean must be a Tensor, got number$/, TypeError);
    throwsLibtorch(() => torch.where(bad(true), x, x), /^where: condition must be a Tensor, got boolean$/, TypeError);
    throwsLibtorch(() => torch.cat([]), /^cat: expected a non-empty array of tensors$/, TypeError);
    throwsLibtorch(() => torch.stack([x, bad(null)]), /^stack: element 1 must be a Tensor, got null$/, TypeError);
    throwsLibtorch(() => torch.autograd.grad(x.sum(), []), /^autograd\.grad inputs: expected a non-empty array of tensors$/, TypeError);
    throwsLibtorch(() => x.copy_(bad(null)), /^copy_: argument 'src' must be a Tensor, got null$/, TypeError);
    throwsLibtorch(
      () => torch.zeros([2], { dtype: 'complex64' as 'float32' }),
      /^unknown dtype 'complex64'; expected one of float32, float64, int64, bool, int32, uint8, bfloat16, float16$/,
      TypeError,
    );
    throwsLibtorch(() => torch.setNumThreads(0), /^setNumThreads: n must be a positive integer, got 0$/, RangeError);
    throwsLibtorch(() => F.dropout(x, -0.1), /^dropout: p must be in \[0, 1\], got -0.1$/, RangeError);
    throwsLibtorch(
      () => torch.tensor([[1, 2], [3]] as number[][]),
      /^tensor: the nested arrays are ragged or do not match shape \[2,2\] \(3 values\)$/,
      RangeError,
    );
    throwsLibtorch(() => new optim.SGD([], { lr: 1 }), /^SGD: got an empty parameter list$/);
    throwsLibtorch(
      () => new optim.CosineAnnealingLR(new optim.SGD([x.clone().requiresGrad_()], { lr: 1 }), 0),
      /^CosineAnnealingLR: tMax must be > 0, got 0$/,
      RangeError,
    );
    // The addon's own argument checks (reached by casting past the TypeScript types) name the argument too.
    throwsLibtorch(
      () => F.conv2d(torch.ones([1, 1, 3, 3]), torch.ones([1, 1, 1, 1]), null, { stride: 'x' as unknown as number }),
      /^conv2d stride \(argument 3\) must be an array of integers$/,
      TypeError,
    );
    throwsLibtorch(() => x.sum('0' as never), /^sum \(argument 2\) must be an array of integers$/, TypeError);
    throwsLibtorch(
      () => F.interpolate(x.reshape(1, 1, 2, 2), [3, 3], { mode: 'area' as 'nearest' }),
      /^interpolate: mode must be 'bilinear' or 'nearest', got 'area'$/,
      RangeError,
    );
  });
  stillWorks();
});

test('errors inside tidy release the scope; later work is unaffected', () => {
  const before = torch.memory();
  for (let i = 0; i < 20; i++) {
    assert.throws(() => torch.tidy(() => torch.randn([3, 3]).matmul(torch.randn([4, 4]))), /mat1 and mat2 shapes cannot be multiplied/);
  }
  const after = torch.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numScopes, 0);
  stillWorks();
});

test('integer arguments must be whole numbers: 1.5, NaN and Infinity are errors, not truncated', () => {
  for (const bad of [2.5, NaN, Infinity, -Infinity, 2 ** 60 + 0.5 * 2 ** 10]) {
    throwsLibtorch(() => torch.zeros([2, bad]), /zeros shape \(argument 0\) must be an array of integers/, TypeError);
  }
  const x = torch.randn([2, 3]);
  throwsLibtorch(() => x.sum(0.5), /sum \(argument \d\) must be an array of integers/, TypeError);
  throwsLibtorch(() => x.view([1.5, 4]), /view shape \(argument \d\) must be an array of integers/, TypeError);
  assert.deepEqual(x.view([3, 2]).shape, [3, 2]); // whole numbers still pass, as doubles from JavaScript
  assert.deepEqual(torch.zeros([2 ** 3, 1]).shape, [8, 1]);
  x.dispose();
  stillWorks();
});
