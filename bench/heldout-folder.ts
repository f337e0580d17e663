/**
 * Writes a held-out segmentation data set in dnas's generic `folder` layout (src/data/folder.ts,
 * docs/data.md), made from real MRI data of the Debian package mricron-data, to check that search
 * defaults tuned on the bundled `brain-mri` data set also work on data they were not tuned on.
 *
 * It differs from brain-mri (src/data/brain.ts: AXIAL slices of ch2.nii.gz labelled with the AAL
 * atlas grouped into lobes) in both view and labels:
 *
 *   - view: CORONAL slices of the Colin27 T1 MRI ch2.nii.gz, i.e. slices along the volume's second
 *     axis (j, posterior -> anterior); image rows run superior (top) to inferior, columns along
 *     the volume's i axis (as brain-mri);
 *   - labels: the Brodmann atlas brodmann.nii.gz (voxel value = Brodmann area number, 0 = none)
 *     grouped into 7 classes, with the brain mask ch2bet.nii.gz:
 *
 *       0 background           outside the brain mask (ch2bet <= 0): air, skull, scalp
 *       1 other brain          in the mask without a Brodmann area (white matter, ventricles, deep
 *                              grey nuclei, cerebellum, brain stem)
 *       2 frontal              BA 4, 6, 8, 9, 10, 11, 44, 45, 46, 47
 *       3 parietal             BA 1, 2, 3, 5, 7, 39, 40, 43
 *       4 temporal             BA 20, 21, 22, 37, 38, 41, 42
 *       5 occipital            BA 17, 18, 19
 *       6 limbic/insular       BA 23-36 (cingulate, retrosplenial, parahippocampal, entorhinal,
 *                              perirhinal, subcallosal) and 48 (which in this map covers the
 *                              insular region)
 *
 *     The mask decides background: atlas voxels outside ch2bet are background. An atlas value
 *     not in these groups is an error.
 *
 * The atlas and mask are resampled (nearest neighbour, world coordinates) onto the MRI grid when
 * their grids differ; for the Debian files they coincide (181 x 217 x 181, 1 mm), which is printed.
 *
 * Slices: the coronal slices where the brain (class >= 1) covers at least 15 % of the slice, every
 * one of them (every k-th when there would be more than ~150 training slices). Counting from the
 * first, slices form blocks of 8; every 5th block is validation and the slice on each side of a
 * validation block is in neither split (as brain.ts does), so train and val share no slice and no
 * direct neighbour; about 20 % of the used slices are validation.
 *
 * Each slice is resized to 100 (height) x 88 (width): images bilinearly, masks by nearest
 * neighbour. Images are 8-bit grey PNGs, the MRI scaled so that the volume's 1st percentile is 0
 * and its 99th percentile 255 (clipped). Masks are palette PNGs whose indices are the classes
 * (the palette only makes them viewable). classes.txt gives "name R G B" per class.
 *
 *   OUT/classes.txt
 *   OUT/images/{train,val}/coronal-jNNN.png
 *   OUT/masks/{train,val}/coronal-jNNN.png
 *
 * Usage: node dist/bench/heldout-folder.js OUT_DIR [TEMPLATES_DIR]
 *   (TEMPLATES_DIR defaults to /usr/share/mricron/templates). Prints a one-line summary.
 * Then e.g.: node bin/dnas.js search --dataset folder --data-root OUT_DIR ...
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NiftiVolume, readNifti, resampleNearest, sameGrid } from '../src/data/nifti';
import { encodePng } from '../src/data/png';
import { resizeBilinear, resizeNearest } from '../src/data/transforms';

const CLASSES: { name: string; rgb: [number, number, number]; areas: number[] }[] = [
  { name: 'background', rgb: [0, 0, 0], areas: [] },
  { name: 'other brain', rgb: [200, 200, 200], areas: [] },
  { name: 'frontal', rgb: [230, 25, 75], areas: [4, 6, 8, 9, 10, 11, 44, 45, 46, 47] },
  { name: 'parietal', rgb: [0, 130, 200], areas: [1, 2, 3, 5, 7, 39, 40, 43] },
  { name: 'temporal', rgb: [255, 225, 25], areas: [20, 21, 22, 37, 38, 41, 42] },
  { name: 'occipital', rgb: [60, 180, 75], areas: [17, 18, 19] },
  { name: 'limbic/insular', rgb: [245, 130, 48], areas: [23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 48] },
];

const OUT_H = 100,
  OUT_W = 88;
const MIN_BRAIN = 0.15;
const BLOCK = 8,
  VAL_EVERY = 5,
  GAP = 1;
const MAX_TRAIN = 150;

function fail(msg: string): never {
  console.error(`heldout-folder: ${msg}`);
  process.exit(1);
}

/** The value at quantile q (0..1) of `data` (nearest rank). */
function quantile(sorted: Float32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

/** Splits the usable slice positions into blocks: every VAL_EVERY-th block is val, GAP slices around it are dropped. */
function split(slices: number[]): { train: number[]; val: number[] } {
  const isVal = (p: number) => p >= 0 && Math.floor(p / BLOCK) % VAL_EVERY === VAL_EVERY - 1;
  const near = (p: number) => {
    for (let d = 1; d <= GAP; d++) if (isVal(p - d) || isVal(p + d)) return true;
    return false;
  };
  const train: number[] = [],
    val: number[] = [];
  slices.forEach((s, p) => {
    if (isVal(p)) val.push(s);
    else if (!near(p)) train.push(s);
  });
  return { train, val };
}

function main(): void {
  const out = process.argv[2];
  const dir = process.argv[3] ?? '/usr/share/mricron/templates';
  if (!out) fail('usage: node dist/bench/heldout-folder.js OUT_DIR [TEMPLATES_DIR]');
  const files = ['ch2.nii.gz', 'ch2bet.nii.gz', 'brodmann.nii.gz'].map((f) => path.join(dir, f));
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) fail(`missing ${missing.join(', ')} (apt-get install mricron-data)`);
  const [mri, bet, ba] = files.map((f) => readNifti(f));
  const grids = { bet: sameGrid(bet, mri), brodmann: sameGrid(ba, mri) };
  const onGrid = (v: NiftiVolume, same: boolean) => (same ? v.data : resampleNearest(v, mri));
  const mask = onGrid(bet, grids.bet);
  const atlas = onGrid(ba, grids.brodmann);
  const [nx, ny, nz] = mri.dims;
  const n = nx * ny * nz;

  // Brodmann area -> class.
  const lut = new Map<number, number>();
  CLASSES.forEach((c, k) => {
    for (const a of c.areas) lut.set(a, k);
  });
  const labels = new Uint8Array(n);
  let dropped = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.round(atlas[i]);
    const cls = a > 0 ? lut.get(a) : 1;
    if (cls === undefined) fail(`${files[2]}: Brodmann area ${a} at voxel ${i} is in no class group`);
    if (mask[i] > 0) labels[i] = cls;
    else if (a > 0) dropped++;
  }

  // Intensity window: the volume's 1st and 99th percentiles.
  const sorted = Float32Array.from(mri.data.subarray(0, n)).sort();
  const lo = quantile(sorted, 0.01),
    hi = quantile(sorted, 0.99);
  if (!(hi > lo)) fail(`${files[0]}: 1st and 99th percentiles coincide (${lo})`);

  // Coronal slice j: rows r = superior (k = nz - 1) to inferior, columns i.
  const sliceH = nz,
    sliceW = nx;
  const usable: number[] = [];
  for (let j = 0; j < ny; j++) {
    let brain = 0;
    for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) if (labels[i + nx * (j + ny * k)] > 0) brain++;
    if (brain >= MIN_BRAIN * sliceH * sliceW) usable.push(j);
  }
  if (usable.length === 0) fail('no coronal slice has enough brain');
  let stride = 1;
  let sets = split(usable);
  while (sets.train.length > MAX_TRAIN) {
    stride++;
    sets = split(usable.filter((_, p) => p % stride === 0));
  }

  fs.rmSync(out, { recursive: true, force: true });
  const palette = CLASSES.map((c) => c.rgb);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'classes.txt'), CLASSES.map((c) => `${c.name} ${c.rgb.join(' ')}`).join('\n') + '\n');
  const counts = new Float64Array(CLASSES.length);
  const perSplit: Record<string, number> = {};
  for (const [name, js] of Object.entries(sets)) {
    const imgDir = path.join(out, 'images', name),
      maskDir = path.join(out, 'masks', name);
    fs.mkdirSync(imgDir, { recursive: true });
    fs.mkdirSync(maskDir, { recursive: true });
    for (const j of js) {
      const img = new Float32Array(sliceH * sliceW);
      const lab = new Uint8Array(sliceH * sliceW);
      for (let r = 0; r < sliceH; r++) {
        const k = nz - 1 - r;
        for (let i = 0; i < nx; i++) {
          const v = i + nx * (j + ny * k);
          img[r * sliceW + i] = Math.min(1, Math.max(0, (mri.data[v] - lo) / (hi - lo)));
          lab[r * sliceW + i] = labels[v];
        }
      }
      const small = resizeBilinear(img, 1, sliceH, sliceW, OUT_H, OUT_W);
      const smallMask = resizeNearest(lab, sliceH, sliceW, OUT_H, OUT_W);
      const grey = new Uint8Array(OUT_H * OUT_W);
      for (let p = 0; p < grey.length; p++) grey[p] = Math.round(255 * Math.min(1, Math.max(0, small[p])));
      for (const c of smallMask) counts[c]++;
      const id = `coronal-j${String(j).padStart(3, '0')}`;
      fs.writeFileSync(path.join(imgDir, `${id}.png`), encodePng({ width: OUT_W, height: OUT_H, channels: 1, data: grey }));
      fs.writeFileSync(path.join(maskDir, `${id}.png`), encodePng({ width: OUT_W, height: OUT_H, channels: 1, data: smallMask, palette }));
    }
    perSplit[name] = js.length;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const shares = CLASSES.map((c, k) => `${c.name} ${((100 * counts[k]) / total).toFixed(1)}%`).join(', ');
  console.log(
    `heldout-folder: ${out}: train ${perSplit.train}, val ${perSplit.val} coronal slices of ${nx}x${ny}x${nz} ch2 ` +
      `(${usable.length} with >= ${MIN_BRAIN * 100}% brain, j ${usable[0]}-${usable[usable.length - 1]}, stride ${stride}), ` +
      `${OUT_H}x${OUT_W}; grids match: bet ${grids.bet}, brodmann ${grids.brodmann}; window ${lo}-${hi}; ` +
      `atlas voxels outside mask ${dropped}; class shares: ${shares}`,
  );
}

main();
