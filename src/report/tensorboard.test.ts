import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers';
import { crc32c, maskedCrc32c, metricsCsv, TensorBoardWriter } from './tensorboard';

test('CRC-32C: the test vectors of RFC 3720 and the TFRecord mask', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  const c = crc32c(Buffer.from('123456789'));
  assert.equal(maskedCrc32c(Buffer.from('123456789')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

// An independent reader in Python: a bitwise CRC-32C (no table), the TFRecord framing and a
// protobuf walk by field number, printing the events as JSON.
const READER = String.raw`
import json, struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
def masked(b):
    c = crc32c(b)
    return ((((c >> 15) | (c << 17)) & 0xffffffff) + 0xa282ead8) & 0xffffffff
def fields(b):
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0: v, i = varint(b, i)
        elif wt == 1: v, i = b[i:i+8], i + 8
        elif wt == 5: v, i = b[i:i+4], i + 4
        elif wt == 2:
            n, i = varint(b, i); v, i = b[i:i+n], i + n
        out.append((f, wt, v))
    return out
def varint(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
data = open(sys.argv[1], 'rb').read()
i, events = 0, []
while i < len(data):
    n = struct.unpack('<Q', data[i:i+8])[0]
    assert struct.unpack('<I', data[i+8:i+12])[0] == masked(data[i:i+8]), 'length crc'
    body = data[i+12:i+12+n]
    assert struct.unpack('<I', data[i+12+n:i+16+n])[0] == masked(body), 'data crc'
    i += 16 + n
    e = {}
    for f, wt, v in fields(body):
        if f == 1: e['wall_time'] = struct.unpack('<d', v)[0]
        elif f == 2: e['step'] = v
        elif f == 3: e['file_version'] = v.decode()
        elif f == 7: e['session_log_status'] = dict((ff, vv) for ff, _, vv in fields(v)).get(1)
        elif f == 5:
            e['values'] = {}
            for _, _, val in fields(v):
                d = {ff: vv for ff, _, vv in fields(val)}
                e['values'][d[1].decode()] = struct.unpack('<f', d[2])[0]
    events.append(e)
print(json.dumps(events))
`;

test('TensorBoard event files: framing, CRCs and events as an independent reader sees them', (t) => {
  const py = spawnSync('/usr/bin/python3', ['-c', 'print(1)'], { encoding: 'utf8' });
  if (py.status !== 0) return t.skip('/usr/bin/python3 is not available');
  const dir = tempDir('dnas-tb-');
  const w = new TensorBoardWriter(dir, 3);
  w.epoch({ epoch: 3, phase: 'search', trainLoss: 0.75, lr: 0.05, score: 0.4125, gap: -0.02, archMaxWeight: 0.5, archChanged: 2, entropy: NaN });
  w.epoch({ epoch: 4, phase: 'frozen', trainLoss: 0.5, score: 0.5 });
  w.close();
  const script = path.join(dir, 'read.py');
  fs.writeFileSync(script, READER);
  const r = spawnSync('/usr/bin/python3', [script, w.file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.equal(events.length, 4);
  assert.equal(events[0].file_version, 'brain.Event:2');
  assert.deepEqual([events[1].step, events[1].session_log_status], [3, 1]); // START at the first step written
  assert.equal(events[2].step, 3);
  const f32 = (v: number) => Math.fround(v);
  assert.deepEqual(events[2].values, {
    'train/loss': 0.75,
    'train/lr': f32(0.05),
    'val/score': f32(0.4125),
    'gap/gap': f32(-0.02),
    'arch/max_weight': 0.5,
    'arch/decisions_changed': 2,
  });
  assert.deepEqual(events[3].values, { 'train/loss': 0.5, 'val/score': 0.5 });
  assert.ok(Math.abs((events[2].wall_time as number) - Date.now() / 1000) < 60);
  assert.match(path.basename(w.file), /^events\.out\.tfevents\.\d+\..+\.\d+\.\d+\.dnas$/);
});

test('metrics.csv: fixed columns, empty cells for missing values, text quoted and neutralised for spreadsheets', () => {
  const csv = metricsCsv([
    { epoch: 1, phase: 'search', trainLoss: 0.5, score: 0.25, gap: 0.01, archChanged: null },
    { epoch: 2, phase: '=HYPERLINK("x"), b', trainLoss: Infinity, score: 0.3 },
  ]);
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.ok(lines[0].startsWith('epoch,phase,trainLoss,lr,metric,score,valLoss,'));
  const cols = lines[0].split(',');
  const row1 = lines[1].split(',');
  assert.equal(row1.length, cols.length);
  assert.deepEqual(
    [row1[cols.indexOf('epoch')], row1[cols.indexOf('phase')], row1[cols.indexOf('score')], row1[cols.indexOf('gap')], row1[cols.indexOf('lr')]],
    ['1', 'search', '0.25', '0.01', ''],
  );
  assert.ok(lines[2].startsWith(`2,"'=HYPERLINK(""x""), b",,`), lines[2]);
});
