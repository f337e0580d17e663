import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { ConfusionMatrix } from './confusion';

test('mIoU and pixel accuracy match a hand-computed confusion matrix', () => {
  // 3 classes; target/pred over 10 pixels, one ignored (255).
  const target = [0, 0, 0, 1, 1, 1, 2, 2, 255, 2];
  const pred = [0, 0, 1, 1, 1, 2, 2, 0, 1, 2];
  const cm = new ConfusionMatrix(3);
  cm.addArrays(target, pred);
  // rows gt, cols pred: gt0 -> [2,1,0], gt1 -> [0,2,1], gt2 -> [1,0,2]
  assert.deepEqual(Array.from(cm.counts), [2, 1, 0, 0, 2, 1, 1, 0, 2]);
  // IoU_c = tp / (row + col - tp): c0 2/(3+3-2)=0.5, c1 2/(3+3-2)=0.5, c2 2/(3+3-2)=0.5
  assert.deepEqual(cm.iou(), [0.5, 0.5, 0.5]);
  assert.equal(cm.miou(), 0.5);
  assert.equal(cm.accuracy(), 6 / 9);
});

test('classes absent from ground truth and prediction are left out of the mean', () => {
  const cm = new ConfusionMatrix(4);
  cm.addArrays([0, 0, 1, 1], [0, 0, 1, 0]);
  const iou = cm.iou();
  assert.equal(iou[0], 2 / 3);
  assert.equal(iou[1], 1 / 2);
  assert.ok(Number.isNaN(iou[2]) && Number.isNaN(iou[3]));
  assert.equal(cm.miou(), (2 / 3 + 1 / 2) / 2);
});

test('add() takes logits [N,C,H,W] and integer targets, and releases its temporaries', () => {
  torch.setNumThreads(1);
  const before = torch.memory().numTensors;
  // logits favour class = (h + w) % 2 at each pixel of a 1x2x2x2 image
  const logits = torch.tensor([
    [
      [
        [1, 0],
        [0, 1],
      ],
      [
        [0, 1],
        [1, 0],
      ],
    ],
  ]);
  const target = torch.tensor(
    [
      [
        [0, 1],
        [255, 0],
      ],
    ],
    { dtype: 'int64' },
  );
  const cm = new ConfusionMatrix(2);
  cm.add(logits, target);
  assert.deepEqual(Array.from(cm.counts), [2, 0, 0, 1]);
  assert.equal(cm.miou(), 1);
  logits.dispose();
  target.dispose();
  assert.equal(torch.memory().numTensors, before);
});

test('labels outside the class range are a clear error', () => {
  const cm = new ConfusionMatrix(2);
  assert.throws(() => cm.addArrays([3], [0]), /label 3 .* outside \[0, 2\)/);
});
