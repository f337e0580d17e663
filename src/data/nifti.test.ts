import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { test } from 'node:test';
import { missingDebianData, DEBIAN_SOURCES } from './debian';
import { DataError } from './errors';
import { decodeNifti, encodeNifti, niftiAffine, readNifti, resampleNearest, sameGrid } from './nifti';
import { put, tempDir } from './testing';

const DIR = DEBIAN_SOURCES['brain-mri'].dir;
const missing = missingDebianData('brain-mri');

// Expected values read independently with python3 (gzip + struct) from the Debian mricron-data files.
test('ch2.nii.gz: header fields and voxel values match an independent reading', (t) => {
  if (missing) return t.skip(missing);
  const v = readNifti(path.join(DIR, 'ch2.nii.gz'));
  const h = v.header;
  assert.equal(h.littleEndian, true);
  assert.equal(h.magic, 'n+1');
  assert.deepEqual(h.dim, [3, 181, 217, 181, 1, 1, 1, 1]);
  assert.equal(h.datatype, 2);
  assert.equal(h.bitpix, 8);
  assert.deepEqual(h.pixdim, [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.equal(h.voxOffset, 352);
  assert.equal(h.sclSlope, 1);
  assert.equal(h.sclInter, 0);
  assert.equal(h.qformCode, 0);
  assert.equal(h.sformCode, 4);
  assert.deepEqual(h.srow, [
    [1, 0, 0, -90],
    [0, 1, 0, -125],
    [0, 0, 1, -71],
  ]);
  assert.equal(h.descrip, 'spm - algebra');
  assert.deepEqual(v.dims, [181, 217, 181]);
  assert.deepEqual(v.spacing, [1, 1, 1]);
  assert.deepEqual(v.affine, [
    [1, 0, 0, -90],
    [0, 1, 0, -125],
    [0, 0, 1, -71],
  ]);
  const at = (i: number, j: number, k: number) => v.data[i + 181 * (j + 217 * k)];
  assert.equal(at(90, 108, 90), 33);
  assert.equal(at(0, 0, 0), 0);
  assert.equal(at(60, 120, 100), 113);
  assert.equal(at(120, 80, 50), 75);
  let max = 0,
    sum = 0;
  for (const x of v.data) {
    sum += x;
    if (x > max) max = x;
  }
  assert.equal(max, 254);
  assert.equal(sum, 317151210);
});

test("aal.nii.gz shares ch2's grid (no resampling needed) and has 116 regions", (t) => {
  if (missing) return t.skip(missing);
  const ch2 = readNifti(path.join(DIR, 'ch2.nii.gz'));
  const aal = readNifti(path.join(DIR, 'aal.nii.gz'));
  assert.ok(sameGrid(ch2, aal));
  const at = (i: number, j: number, k: number) => aal.data[i + 181 * (j + 217 * k)];
  assert.equal(at(90, 108, 90), 0);
  assert.equal(at(120, 80, 50), 100);
  let max = 0;
  for (const x of aal.data) if (x > max) max = x;
  assert.equal(max, 116);
  // resampling onto the same grid is the identity
  const same = resampleNearest(aal, ch2);
  assert.deepEqual(same.subarray(0, 200000), aal.data.subarray(0, 200000));
});

test('big-endian int16 with scl_slope/scl_inter, gzipped, and a qform-free pixdim affine', () => {
  const dims = [4, 3, 2];
  const raw = Array.from({ length: 24 }, (_, i) => i * 10 - 50);
  const buf = encodeNifti(dims, raw, { datatype: 4, littleEndian: false, sclSlope: 0.5, sclInter: 3, pixdim: [2, 3, 4] });
  const v = decodeNifti(zlib.gzipSync(buf), 'be.nii.gz');
  assert.equal(v.header.littleEndian, false);
  assert.deepEqual(v.dims, [4, 3, 2]);
  assert.deepEqual(v.spacing, [2, 3, 4]);
  assert.deepEqual(
    Array.from(v.data),
    raw.map((x) => x * 0.5 + 3),
  );
  assert.deepEqual(niftiAffine(v.header), [
    [2, 0, 0, 0],
    [0, 3, 0, 0],
    [0, 0, 4, 0],
  ]);
});

test('nearest resampling through the affines: a 2 mm atlas onto a 1 mm grid', () => {
  // atlas: 3x3x3 voxels of 2 mm with label = i + 3j + 9k; target: 6x6x6 voxels of 1 mm, same origin corner
  const lab = Array.from({ length: 27 }, (_, i) => i);
  const atlas = decodeNifti(
    encodeNifti([3, 3, 3], lab, {
      affine: [
        [2, 0, 0, 0.5],
        [0, 2, 0, 0.5],
        [0, 0, 2, 0.5],
      ],
    }),
  );
  const target = {
    dims: [6, 6, 6] as [number, number, number],
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ],
  };
  const out = resampleNearest(atlas, target, 99);
  // target voxel (x, y, z) at world (x, y, z) -> atlas voxel round((x - 0.5) / 2)
  for (let z = 0; z < 6; z++)
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 6; x++) {
        const a = (c: number) => Math.round((c - 0.5) / 2) + 0; // + 0: no -0
        const [i, j, k] = [a(x), a(y), a(z)];
        const want = i < 3 && j < 3 && k < 3 ? i + 3 * j + 9 * k : 99;
        assert.equal(out[x + 6 * (y + 6 * z)], want, `(${x},${y},${z})`);
      }
});

test('truncated, corrupt and foreign files raise DataErrors naming the file', () => {
  const good = encodeNifti([4, 4, 4], new Array(64).fill(1), { datatype: 16 });
  const gz = zlib.gzipSync(good);
  const dir = tempDir('nifti');
  const cases: [string, Buffer, RegExp][] = [
    ['short.nii', good.subarray(0, 100), /truncated NIfTI header/],
    ['cut.nii', good.subarray(0, 352 + 100), /truncated NIfTI data: 100 bytes of voxels, 256 needed/],
    ['cut.nii.gz', gz.subarray(0, gz.length - 5), /corrupt or truncated gzip/],
    ['foreign.nii', Buffer.concat([Buffer.from('hello'), Buffer.alloc(400)]), /not a NIfTI-1 file/],
  ];
  for (const [name, buf, re] of cases) {
    const f = put(path.join(dir, name), buf);
    assert.throws(
      () => readNifti(f),
      (e: unknown) => e instanceof DataError && e.file === f && re.test(e.reason),
      name,
    );
  }
  assert.throws(() => readNifti(path.join(dir, 'none.nii')), /none\.nii: file does not exist/);
  assert.ok(fs.existsSync(dir));
});
