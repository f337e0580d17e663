/**
 * Finite-difference gradient checking for tests (a small torch.autograd.gradcheck).
 *
 * `fn` maps float64 input tensors to one output tensor of any shape. The output is reduced to a
 * scalar with fixed pseudo-random weights (so that every output element matters with a distinct
 * weight), the analytic gradient of that scalar comes from autograd, and each input element is
 * perturbed by +-eps to get the central difference (f(x + eps) - f(x - eps)) / (2 eps).
 */
import assert from 'node:assert/strict';
import * as torch from '../src/torch';
import type { Tensor } from '../src/torch';

export interface GradcheckOptions {
  /** Step of the central difference (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Relative tolerance, against |numeric| (default 1e-4). */
  rtol?: number;
  /** Which inputs to check (default: every floating-point input). */
  check?: boolean[];
}

export interface GradcheckResult {
  /** Largest |analytic - numeric| over every checked element. */
  maxAbsError: number;
  analytic: number[][];
  numeric: number[][];
}

/** Deterministic weights in [0.5, 1.5), different for each element (no RNG state is touched). */
function projection(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 + ((((Math.sin(12.9898 * (i + 1)) * 43758.5453) % 1) + 1) % 1);
  return w;
}

function scalarOf(out: Tensor, w: Tensor): Tensor {
  return out.to('float64').mul(w).sum();
}

/**
 * Checks the gradient of `fn` at `inputs` (float64 tensors; they are not modified) and throws an
 * AssertionError naming the input and element that disagree. Returns the gradients it compared.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], o: GradcheckOptions = {}): GradcheckResult {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-6;
  const rtol = o.rtol ?? 1e-4;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype === 'float32' && (o.check?.[i] ?? true)) {
      throw new Error(`gradcheck: input ${i} is float32; finite differences need float64 inputs`);
    }
  }
  const check = inputs.map((x, i) => (o.check?.[i] ?? true) && x.dtype === 'float64');
  const values = inputs.map((x) => x.toArray());
  const shapes = inputs.map((x) => x.shape);
  const make = (vals: number[][], grad: boolean) =>
    inputs.map((x, i) => (x.dtype === 'float64' ? torch.tensor(new Float64Array(vals[i]), { shape: shapes[i], requiresGrad: grad && check[i] }) : x));

  return torch.tidy(() => {
    // Analytic.
    const leaves = make(values, true);
    const out0 = fn(...leaves);
    const w = torch.tensor(projection(out0.numel), { shape: out0.shape });
    const s = scalarOf(out0, w);
    const used = leaves.filter((_, i) => check[i]);
    const grads = torch.autograd.grad(s, used, { allowUnused: true });
    const analytic: number[][] = [];
    let g = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (!check[i]) {
        analytic.push([]);
        continue;
      }
      const gi = grads[g++];
      analytic.push(gi ? gi.toArray() : new Array<number>(values[i].length).fill(0));
    }
    // Numeric.
    const evalAt = (vals: number[][]) => torch.tidy(() => torch.noGrad(() => scalarOf(fn(...make(vals, false)), w).item()));
    const numeric: number[][] = [];
    let maxAbsError = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (!check[i]) {
        numeric.push([]);
        continue;
      }
      const num: number[] = [];
      for (let k = 0; k < values[i].length; k++) {
        const plus = values.map((v) => v.slice());
        const minus = values.map((v) => v.slice());
        plus[i][k] += eps;
        minus[i][k] -= eps;
        const d = (evalAt(plus) - evalAt(minus)) / (2 * eps);
        num.push(d);
        const err = Math.abs(d - analytic[i][k]);
        maxAbsError = Math.max(maxAbsError, err);
        assert.ok(
          err <= atol + rtol * Math.abs(d),
          `gradcheck: input ${i} element ${k}: analytic ${analytic[i][k]} vs numeric ${d} (|diff| ${err.toExponential(2)})`,
        );
      }
      numeric.push(num);
    }
    return { maxAbsError, analytic, numeric };
  });
}

/** A float64 tensor of `shape` with values from the seeded generator (N(0, 1) * scale + shift). */
export function randn64(shape: number[], scale = 1, shift = 0): Tensor {
  return torch.tidy(() => torch.randn(shape, { dtype: 'float64' }).mul(scale).add(shift));
}
