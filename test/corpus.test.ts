/**
 * The bad-input corpus, run through the `dnas` command as a user would: every crafted or broken
 * input the hardening work found (checkpoints, images, configs, settings, output paths, run
 * folders) is written here, then given to a fresh `dnas` process. Each must end with a non-zero
 * exit code and a message that names the problem, within a time limit; never a signal (crash),
 * a hang, or exit 0. Fixtures are made by the test, so the corpus lives in this file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { missingDebianData } from '../src/data';
import { crc32, encodePng } from '../src/data/png';
import { nestedListPickle, storedZip, tempDir } from './helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnas.js');
/** A tiny network on either data set: every search of the corpus runs in seconds. */
const SMALL = ['--threads', '1', '--layers', '2', '--channels', '4', '--nodes', '1', '--scales', '2', '--control-genotypes', '0', '--warmup-epochs', '1'];
const TINY = ['--dataset', 'brain-mri', '--size', '32x32', '--train-subset', '8', '--val-subset', '4', '--batch-size', '4', ...SMALL];

/** Runs `dnas args`; a hang past `seconds` is killed and fails the case. */
function dnas(args: string[], seconds = 60): { code: number | null; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: seconds * 1000, killSignal: 'SIGKILL' });
  return { code: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

/** The case's contract: a clean failure with `message`. */
function failsWith(args: string[], message: RegExp, seconds = 60): void {
  const r = dnas(args, seconds);
  assert.equal(r.signal, null, `dnas ${args.join(' ')} was killed by ${r.signal} (crash or hang):\n${r.out}`);
  assert.notEqual(r.code, 0, `dnas ${args.join(' ')} exited 0:\n${r.out}`);
  assert.match(r.out, message, `dnas ${args.join(' ')}`);
}

const skip = missingDebianData('brain-mri') ?? false;

test('the bad-input corpus: every case ends with a message and a non-zero exit, never a crash, hang or exit 0', { skip }, () => {
  const root = tempDir('dnas-corpus-');
  const run = path.join(root, 'run');
  const made = dnas(['search', ...TINY, '--epochs', '3', '--out', run, '--quiet'], 120);
  assert.equal(made.code, 0, made.out);
  const last = path.join(run, 'checkpoints', 'last.pt');
  const good = fs.readFileSync(last);
  const withLast = (bytes: Buffer, integrity: boolean, fn: () => void) => {
    const rec = path.join(run, 'checkpoints', 'integrity.json');
    const saved = fs.readFileSync(rec);
    fs.writeFileSync(last, bytes);
    if (!integrity) fs.rmSync(rec);
    try {
      fn();
    } finally {
      fs.writeFileSync(last, good);
      fs.writeFileSync(rec, saved);
    }
  };

  // Checkpoints: lists nested 200,000 deep; a flipped byte (with and without the integrity record); a cut file.
  withLast(
    storedZip([
      ['archive/data.pkl', nestedListPickle(200_000)],
      ['archive/version', Buffer.from('3\n')],
    ]),
    false,
    () => failsWith(['eval', run], /last\.pt.*(deeper than 1000 levels|cannot read)/),
  );
  const flipped = Buffer.from(good);
  flipped[flipped.length >> 1] ^= 0xff;
  withLast(flipped, true, () => failsWith(['eval', run], /last\.pt does not match the SHA-256 recorded/));
  withLast(flipped, false, () =>
    failsWith(['export', run, '--pt', path.join(root, 'exp', 'model.pt')], /cannot read '.*last\.pt' as a torch\.save file: record '.*' fails its checksum/),
  );
  withLast(good.subarray(0, good.length >> 1), false, () =>
    failsWith(['search', '--resume', run], /cannot read '.*last\.pt' as a torch\.save file: no end-of-archive record/),
  );
  assert.ok(!fs.existsSync(path.join(root, 'exp', 'model.pt')), 'nothing exported from a damaged checkpoint');

  // A config.json naming another data set.
  const cfgFile = path.join(run, 'config.json');
  const cfg = fs.readFileSync(cfgFile, 'utf8');
  fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(cfg), dataset: 'fashion-mnist' }));
  failsWith(['eval', run], /names the data set 'fashion-mnist' .* but the network in .* was trained for segmentation/);
  fs.writeFileSync(cfgFile, cfg);

  // predict through a link planted at an output path: refused, the link's target untouched.
  const img = path.join(root, 'slice.png');
  fs.writeFileSync(img, encodePng({ width: 32, height: 32, channels: 1, data: new Uint8Array(1024).fill(90) }));
  const outDir = path.join(root, 'pred');
  fs.mkdirSync(outDir);
  const victim = path.join(root, 'victim.txt');
  fs.writeFileSync(victim, 'keep');
  fs.symlinkSync(victim, path.join(outDir, 'slice_mask.png'));
  failsWith(['predict', run, img, '--out', outDir], /symbolic link/);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep');

  // Output folders: under /proc (Node's recursive mkdir used to spin there), a folder of other files.
  failsWith(['search', ...TINY, '--epochs', '3', '--out', '/proc/dnas-corpus/run'], /cannot create the folder \/proc\/dnas-corpus\/run/, 30);
  const mine = path.join(root, 'mine');
  fs.mkdirSync(mine);
  fs.writeFileSync(path.join(mine, 'notes.txt'), 'x');
  failsWith(['search', ...TINY, '--epochs', '3', '--out', mine], /is not a dnas run folder/);

  // Training that diverges; settings out of range; config files that are not settings.
  failsWith(['search', ...TINY, '--epochs', '3', '--lr', '1e12', '--out', path.join(root, 'nan')], /loss became (NaN|Infinity)/);
  failsWith(['search', ...TINY, '--arch-betas', '2,3', '--out', path.join(root, 'b')], /archBetas/);
  failsWith(['search', ...TINY, '--threads', '1000', '--out', path.join(root, 't')], /'threads' is 1000/);
  const yaml = path.join(root, 'bad.yaml');
  fs.writeFileSync(yaml, '!!binary AAAA\n');
  failsWith(['search', '--config', yaml], /bad\.yaml' must hold an object of settings/);
  const proto = path.join(root, 'proto.json');
  fs.writeFileSync(proto, '{"__proto__": {"epochs": 1}}');
  failsWith(['search', '--config', proto, ...TINY], /unknown field '__proto__'/);

  // Data: a PNG declaring 12000x12000 pixels; every validation image unreadable under --skip-bad; an empty weight split.
  const data = path.join(root, 'data');
  for (const d of ['images', 'masks', 'splits']) fs.mkdirSync(path.join(data, d), { recursive: true });
  fs.writeFileSync(path.join(data, 'classes.txt'), 'background\nthing\n');
  const ids = ['a', 'b', 'c', 'd', 'v1', 'v2'];
  for (const id of ids) {
    fs.writeFileSync(path.join(data, 'images', `${id}.png`), encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(768).fill(id.length * 40) }));
    fs.writeFileSync(path.join(data, 'masks', `${id}.png`), encodePng({ width: 16, height: 16, channels: 1, data: new Uint8Array(256).map((_, i) => i & 1) }));
  }
  fs.writeFileSync(path.join(data, 'splits', 'train.txt'), 'a\nb\nc\nd\n');
  fs.writeFileSync(path.join(data, 'splits', 'val.txt'), 'v1\nv2\n');
  const huge = encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(768) });
  huge.writeUInt32BE(12000, 16);
  huge.writeUInt32BE(12000, 20);
  huge.writeUInt32BE(crc32(huge, 12, 29), 29); // IHDR's checksum, valid again
  fs.writeFileSync(path.join(data, 'images', 'v1.png'), huge);
  fs.writeFileSync(path.join(data, 'images', 'v2.png'), Buffer.from('not an image'));
  const folder = ['--dataset', 'folder', '--data-root', data, '--batch-size', '2', '--epochs', '3', ...SMALL];

  failsWith(['search', ...folder, '--out', path.join(root, 'f1')], /v1\.png: the image declares 12000x12000 = 144000000 pixels/);
  failsWith(['search', ...folder, '--skip-bad', '--out', path.join(root, 'f2')], /only 0 of 2 validation samples could be read[\s\S]*v1\.png/);
  failsWith(['search', ...folder, '--train-subset', '1', '--out', path.join(root, 'f3')], /the weight split is empty/);
  assert.ok(!fs.existsSync(path.join(root, 'f3')), 'refused before the run folder was made');
});
