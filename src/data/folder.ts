/**
 * A generic segmentation folder:
 *
 *   {root}/classes.txt                  one class per line, index = line order; "name" or "name R G B"
 *   {root}/images/[{split}/]**\/*.png|jpg  images (sub-folders allowed)
 *   {root}/masks/[{split}/]**\/*.png       a mask per image, same relative path, PNG
 *   {root}/splits/{split}.txt           optional: ids (relative paths without extension), one a line
 *
 * Masks hold class indices (grey or palette PNG; 255 = ignore). RGB masks are read through the
 * colours of classes.txt. A split is images/{split}/ when that folder exists, else the list
 * splits/{split}.txt, else (split 'all') every image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BadSample, DataError } from './errors';
import { exists, IMAGE_EXT, listDir, lutMapper, PairedFileDataset, PairEntry, reject } from './files';
import { IMAGENET_STATS, RGB } from './types';

/** Options of {@link folder}. */
export interface FolderOptions {
  root: string;
  /** A sub-folder of images/, a list in splits/, or 'all'. */
  split: string;
  /** The class file, relative to root (default classes.txt). */
  classesFile?: string;
  skipBad?: boolean;
}

/** Parses a classes file: names, and colours when every line gives "name R G B". */
export function parseClassesFile(file: string): { names: string[]; colors?: RGB[] } {
  if (!exists(file)) throw new DataError(file, 'class file does not exist (one class name per line)');
  const lines = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  if (lines.length === 0) throw new DataError(file, 'class file is empty');
  if (lines.length > 255) throw new DataError(file, `${lines.length} classes; at most 255 fit a byte mask with 255 = ignore`);
  const names: string[] = [];
  const colors: RGB[] = [];
  for (const l of lines) {
    const m = /^(.*\S)\s+(\d{1,3})\s+(\d{1,3})\s+(\d{1,3})$/.exec(l);
    if (m && [m[2], m[3], m[4]].every((v) => Number(v) <= 255)) {
      names.push(m[1]);
      colors.push([Number(m[2]), Number(m[3]), Number(m[4])]);
    } else {
      names.push(l);
    }
  }
  return { names, colors: colors.length === names.length ? colors : undefined };
}

function walk(dir: string, rel: string, out: string[]): void {
  for (const e of listDir(dir, 'image folder')) {
    const p = path.join(dir, e.name);
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(p, r, out);
    else if (IMAGE_EXT.includes(path.extname(e.name).toLowerCase())) out.push(r);
  }
}

/** A segmentation data set from the generic folder layout. */
export function folder(opts: FolderOptions): PairedFileDataset {
  const { root, split } = opts;
  const skipBad = opts.skipBad ?? false;
  const { names, colors } = parseClassesFile(path.join(root, opts.classesFile ?? 'classes.txt'));
  const imagesRoot = path.join(root, 'images');
  const masksRoot = path.join(root, 'masks');
  listDir(imagesRoot, 'expected images/ next to masks/ and classes.txt');
  let imgDir = imagesRoot,
    maskDir = masksRoot;
  const rels: string[] = [];
  const skipped: BadSample[] = [];
  const listFile = path.join(root, 'splits', `${split}.txt`);
  if (split !== 'all' && exists(path.join(imagesRoot, split)) && fs.statSync(path.join(imagesRoot, split)).isDirectory()) {
    imgDir = path.join(imagesRoot, split);
    maskDir = path.join(masksRoot, split);
    walk(imgDir, '', rels);
  } else if (split !== 'all' && exists(listFile)) {
    const all: string[] = [];
    walk(imagesRoot, '', all);
    const byId = new Map(all.map((r) => [r.slice(0, r.length - path.extname(r).length), r]));
    for (const id of fs
      .readFileSync(listFile, 'utf8')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean)) {
      const r = byId.get(id);
      if (r) rels.push(r);
      else reject(skipBad, skipped, path.join(imagesRoot, id), `image listed in ${listFile} does not exist`);
    }
  } else if (split === 'all') {
    walk(imagesRoot, '', rels);
  } else {
    throw new DataError(
      path.join(imagesRoot, split),
      `no split '${split}': expected the folder images/${split}/ or the list splits/${split}.txt (or use split 'all')`,
    );
  }
  if (rels.length === 0) throw new DataError(imgDir, `empty folder: no images (${IMAGE_EXT.join(', ')})`);
  const entries: PairEntry[] = [];
  for (const r of rels) {
    const id = r.slice(0, r.length - path.extname(r).length);
    const image = path.join(imgDir, r);
    const mask = path.join(maskDir, `${id}.png`);
    if (!exists(mask)) {
      reject(skipBad, skipped, mask, `label file missing for image ${image}`);
      continue;
    }
    entries.push({ id, image, mask });
  }
  if (entries.length === 0) throw new DataError(imgDir, 'no usable images (all were skipped)');
  const lut = new Int16Array(256).fill(-1);
  for (let i = 0; i < names.length; i++) lut[i] = i;
  lut[255] = 255;
  return new PairedFileDataset(
    { name: 'folder', split, classNames: names, palette: colors, stats: IMAGENET_STATS },
    entries,
    lutMapper(
      lut,
      `class (0-${names.length - 1}, 255 = ignore)`,
      colors?.map((rgb, value) => ({ rgb, value })),
    ),
    skipped,
  );
}
