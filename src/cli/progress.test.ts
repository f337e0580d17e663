import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { RunDir } from '../search/rundir';
import { formatInfo } from './info';
import { convergenceText, eventLine } from './progress';

test('progress lines show the convergence figures, the control, the freeze reason and the re-estimation', () => {
  const ev = {
    event: 'epoch',
    epoch: 5,
    phase: 'search',
    trainLoss: 0.5,
    metric: 'miou',
    score: 0.41,
    derivedScore: 0.1,
    derivedRecalScore: 0.2,
    gap: 0.31,
    entropy: 0.8,
    temperature: 0.5,
    archMaxWeight: 0.4213,
    archUniform: 0.125,
    archMargin: 0.2149,
    archChanged: 2,
    controlScore: 0.0871,
  };
  assert.equal(convergenceText(ev), ' maxw 0.42/0.13 margin 0.21 changed 2 control 8.71%');
  assert.equal(
    eventLine(ev, 20, 12.4),
    'epoch 5/20 [search] train loss 0.500 mIoU 41.00% derived 10.00% (recal 20.00%) gap +31.00 H 0.800 tau 0.50 maxw 0.42/0.13 margin 0.21 changed 2 control 8.71% (12s)',
  );
  assert.equal(eventLine({ ...ev, gap: -0.05 }, 20, 310)?.endsWith('(5m10s)'), true);
  // the first search epoch has nothing to compare with; an older run has no figures at all
  assert.equal(convergenceText({ archMaxWeight: 0.3, archUniform: 0.3, archMargin: 0, archChanged: null }), ' maxw 0.30/0.30 margin 0.00');
  assert.equal(convergenceText({ score: 0.5 }), '');
  assert.equal(
    eventLine({ event: 'freeze', epoch: 6, phase: 'frozen', reason: 'fixed freeze epoch 6' }, 20, 0),
    'architecture frozen after epoch 6 (fixed freeze epoch 6): training the derived network with its inherited weights',
  );
  assert.equal(
    eventLine({ event: 'bn-recal', epoch: 6, before: 0.058, after: 0.103 }, 20, 0),
    'BatchNorm re-estimated at the freeze (epoch 6): derived network 5.80% -> 10.30% (+4.50 points)',
  );
  assert.equal(eventLine({ event: 'step' }, 20, 0), null);
});

test('dnas info: convergence columns, the control and the freeze reason', () => {
  const run = new RunDir(fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-info-')));
  run.create();
  run.writeJson(run.configFile, {
    algorithm: 'darts',
    protocol: 'single-stage',
    strategy: null,
    dataset: 'brain-mri',
    space: 'lattice',
    layers: 4,
    channels: 8,
    nodes: 2,
    relaxation: 'softmax',
    split: 'darts',
    seed: 0,
  });
  run.append(run.metricsFile, {
    epoch: 1,
    phase: 'search',
    trainLoss: 0.9,
    metric: 'miou',
    score: 0.3,
    derivedScore: 0.1,
    derivedRecalScore: 0.2,
    gap: 0.2,
    entropy: 0.9,
    archMaxWeight: 0.5,
    archUniform: 0.36,
    archMargin: 0.25,
    archChanged: 3,
    controlScore: 0.08,
  });
  run.append(run.metricsFile, { epoch: 2, phase: 'frozen', trainLoss: 0.5, metric: 'miou', score: 0.55 });
  run.writeJson(run.summaryFile, {
    epochs: 2,
    wallSeconds: 3.5,
    metric: 'miou',
    bestScore: 0.55,
    frozenAt: 1,
    freezeReason: 'fixed freeze epoch 1',
    algorithm: 'darts',
    protocol: 'single-stage',
  });
  const text = formatInfo(run);
  assert.match(text, /darts, protocol single-stage on brain-mri/);
  const rows = text.split('\n');
  const header = rows.find((l) => l.startsWith('epoch'))!;
  for (const col of ['maxw', 'margin', 'changed', 'control']) assert.ok(header.includes(col), col);
  const search = rows.find((l) => /^\s+1\s+search/.test(l))!;
  assert.match(search, /0\.50\s+0\.25\s+3\s+8\.00/);
  assert.match(text, /frozen after epoch 1: fixed freeze epoch 1/);
});

test('without a terminal, a long epoch prints a step line with images/s and the ETA every few seconds', async () => {
  const { makeReporter } = await import('./progress');
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const tty = process.stderr.isTTY;
  (process.stderr as { isTTY?: boolean }).isTTY = false;
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => {
    lines.push(s);
    return true;
  };
  try {
    const report = makeReporter({ json: false, quiet: false, epochs: 4, everySeconds: 0.05 });
    report({ event: 'step', epoch: 1, step: 1, steps: 10, images: 8, loss: 1.5, phase: 'warmup' });
    await new Promise((r) => setTimeout(r, 80));
    report({ event: 'step', epoch: 1, step: 2, steps: 10, images: 8, loss: 1.25, phase: 'warmup' });
    report({ event: 'step', epoch: 1, step: 3, steps: 10, images: 8, loss: 1.2, phase: 'warmup' }); // within the interval: silent
  } finally {
    (process.stderr as unknown as { write: typeof write }).write = write;
    (process.stderr as { isTTY?: boolean }).isTTY = tty;
  }
  assert.equal(lines.length, 1, lines.join(''));
  assert.match(lines[0], /^ {2}epoch 1\/4 \[warmup\] step 2\/10 loss 1\.250, \d+\.\d images\/s, ETA \d+s\n$/);
});
