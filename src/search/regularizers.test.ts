import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { entropyPenalty, meanEntropy } from './regularizers';

test('mean entropy of uniform and one-hot rows', () => {
  torch.setNumThreads(1);
  torch.tidy(() => {
    const uniform = torch.full([2, 4], 0.25);
    const oneHot = torch.tensor([[1, 0, 0]]);
    // rows: ln 4, ln 4 (first tensor), 0 (second) -> mean (2 ln 4) / 3
    assert.ok(Math.abs(meanEntropy([uniform, oneHot]).item() - (2 * Math.log(4)) / 3) < 1e-6);
  });
});

test('the entropy penalty gradient moves alphas towards one-hot', () => {
  torch.tidy(() => {
    const alpha = torch.tensor([[0.5, 0.2, 0.1]], { dtype: 'float64', requiresGrad: true });
    const pen = entropyPenalty([alpha.softmax(-1)], 0.1) as torch.Tensor;
    pen.backward();
    const g = (alpha.grad as torch.Tensor).toArray();
    // Gradient descent lowers entropy: the largest alpha must grow (negative gradient), the smallest shrink.
    assert.ok(g[0] < 0 && g[2] > 0, `gradient ${g}`);
    // Independent check of d/dalpha_k of H(softmax(alpha)): -p_k (log p_k + H)
    const a = [0.5, 0.2, 0.1];
    const z = a.map(Math.exp).reduce((s, v) => s + v, 0);
    const p = a.map((v) => Math.exp(v) / z);
    const H = -p.reduce((s, v) => s + v * Math.log(v), 0);
    p.forEach((pk, k) => assert.ok(Math.abs(g[k] - 0.1 * -pk * (Math.log(pk) + H)) < 1e-9));
    assert.equal(entropyPenalty([alpha], 0), null);
  });
});
