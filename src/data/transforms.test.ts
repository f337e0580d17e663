import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from './rng';
import { cropImage, cropMask, hflipImage, hflipMask, normalize, resizeBilinear, resizeNearest, transformSample } from './transforms';
import { SegmentationSample } from './types';

test('bilinear resize: half-pixel centres, constant stays constant, 2x upsampling values', () => {
  const src = Float32Array.from([0, 1, 2, 3]); // 1 channel, 2x2: [[0,1],[2,3]]
  const up = resizeBilinear(src, 1, 2, 2, 4, 4);
  // PyTorch interpolate(mode='bilinear', align_corners=False) gives row 0: 0, .25, .75, 1
  assert.deepEqual(Array.from(up.subarray(0, 4)), [0, 0.25, 0.75, 1]);
  assert.deepEqual(Array.from(up.subarray(4, 8)), [0.5, 0.75, 1.25, 1.5]);
  const c = resizeBilinear(new Float32Array(3 * 5 * 7).fill(0.3), 3, 5, 7, 11, 3);
  assert.ok(c.every((v) => Math.abs(v - 0.3) < 1e-6));
  const down = resizeBilinear(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 1, 1, 8, 1, 4);
  assert.deepEqual(Array.from(down), [0.5, 2.5, 4.5, 6.5]);
});

test('nearest resize never makes new label values and keeps 255', () => {
  const m = Uint8Array.from([0, 1, 255, 3, 4, 5]); // 2x3
  const big = resizeNearest(m, 2, 3, 5, 7);
  assert.ok(big.every((v) => [0, 1, 255, 3, 4, 5].includes(v)));
  assert.deepEqual(Array.from(resizeNearest(m, 2, 3, 4, 6)), [0, 0, 1, 1, 255, 255, 0, 0, 1, 1, 255, 255, 3, 3, 4, 4, 5, 5, 3, 3, 4, 4, 5, 5]);
  assert.deepEqual(Array.from(resizeNearest(Uint8Array.from([1, 2, 3, 4]), 1, 4, 1, 2)), [2, 4]);
});

test('flip, crop with ignore padding, normalisation', () => {
  const img = Float32Array.from([1, 2, 3, 4, 5, 6]); // 1x2x3
  assert.deepEqual(Array.from(hflipImage(img, 1, 2, 3)), [3, 2, 1, 6, 5, 4]);
  assert.deepEqual(Array.from(hflipMask(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 3)), [3, 2, 1, 6, 5, 4]);
  const m = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(cropMask(m, 2, 3, -1, 1, 3, 3)), [255, 255, 255, 2, 3, 255, 5, 6, 255]);
  assert.deepEqual(Array.from(cropImage(img, 1, 2, 3, -1, 1, 3, 3)), [0, 0, 0, 2, 3, 0, 5, 6, 0]);
  const x = Float32Array.from([0.5, 1, 0, 0.2]); // 2 channels x 2 pixels
  normalize(x, 2, 2, [0.5, 0.1], [0.25, 0.1]);
  assert.deepEqual(
    Array.from(x, (v) => Math.round(v * 1e6) / 1e6),
    [0, 2, -1, 1],
  );
});

test('transformSample: deterministic for an rng state; mask stays aligned with the image', () => {
  const H = 20,
    W = 30;
  const image = new Float32Array(3 * H * W);
  const mask = new Uint8Array(H * W);
  // a vertical boundary at x = 12: image 1 / label 2 on the left, image 0 / label 1 on the right
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      mask[y * W + x] = x < 12 ? 2 : 1;
      for (let c = 0; c < 3; c++) image[c * H * W + y * W + x] = x < 12 ? 1 : 0;
    }
  const s: SegmentationSample = { image, mask, height: H, width: W, channels: 3, id: 's' };
  const o = { scale: [0.5, 2] as [number, number], crop: [24, 24] as [number, number], flip: true };
  for (let seed = 0; seed < 20; seed++) {
    const a = transformSample(s, new Rng(seed), o);
    const b = transformSample(s, new Rng(seed), o);
    assert.deepEqual(a.mask, b.mask);
    assert.deepEqual(a.image, b.image);
    assert.equal(a.height, 24);
    assert.equal(a.width, 24);
    for (let i = 0; i < 24 * 24; i++) {
      const v = a.image[i];
      if (a.mask[i] === 255) assert.equal(v, 0, 'padding');
      else if (a.mask[i] === 2) assert.ok(v > 0.49, `label 2 pixel has image ${v}`);
      else assert.ok(v < 0.51, `label 1 pixel has image ${v}`);
      assert.ok([1, 2, 255].includes(a.mask[i]));
    }
  }
  assert.equal(s.image[0], 1, 'input untouched');
  const n = transformSample(s, new Rng(0), { normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
  assert.equal(n.image[0], 1);
  assert.equal(n.image[W - 1], -1);
  assert.equal(s.image[0], 1);
});
