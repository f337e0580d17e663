/**
 * The bundled data sets come from Debian packages (nothing is downloaded). These helpers say
 * whether a package's files are there and, when not, how to install them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where a bundled data source lives and which Debian package provides it. */
export interface DebianSource {
  /** The Debian package. */
  package: string;
  /** Default folder of its files. */
  dir: string;
  /** Files the data sets read, relative to `dir`. */
  files: string[];
}

/** The Debian data packages dnas uses, by data source. */
export const DEBIAN_SOURCES: Record<'fashion-mnist' | 'brain-mri' | 'labelme-examples', DebianSource> = {
  'fashion-mnist': {
    package: 'dataset-fashion-mnist',
    dir: '/usr/share/datasets/fashion-mnist',
    files: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
  },
  'brain-mri': {
    package: 'mricron-data',
    dir: '/usr/share/mricron/templates',
    files: ['ch2.nii.gz', 'ch2bet.nii.gz', 'aal.nii.gz', 'aal.nii.txt'],
  },
  'labelme-examples': {
    package: 'labelme-examples',
    dir: '/usr/share/doc/labelme-examples/examples',
    files: ['video_annotation/data_dataset_voc/class_names.txt', 'semantic_segmentation/data_dataset_voc/class_names.txt'],
  },
};

const SOURCE_OF: Record<string, keyof typeof DEBIAN_SOURCES> = {
  'fashion-mnist': 'fashion-mnist',
  'fashion-scenes': 'fashion-mnist',
  'brain-mri': 'brain-mri',
  'labelme-examples': 'labelme-examples',
};

/**
 * Why a bundled data set cannot be read, with the fix, or null when its files are present.
 * `name` is a data set ('fashion-scenes', 'fashion-mnist', 'brain-mri') or 'labelme-examples';
 * `root` overrides the package's folder.
 *
 * @example
 * const why = missingDebianData('brain-mri');
 * if (why) t.skip(why);
 */
export function missingDebianData(name: string, root?: string): string | null {
  const key = SOURCE_OF[name];
  if (!key) return null;
  const src = DEBIAN_SOURCES[key];
  const dir = root ?? src.dir;
  const missing = src.files.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length === 0) return null;
  const where = root ? `in ${dir}` : `(Debian package ${src.package})`;
  return `${name}: missing ${missing.map((f) => path.join(dir, f)).join(', ')} ${where}; install it with: apt-get install ${src.package}`;
}

/** Throws an Error with the fix (`apt-get install ...`) when {@link missingDebianData} reports a problem. */
export function requireDebianData(name: string, root?: string): void {
  const why = missingDebianData(name, root);
  if (why) throw new Error(why);
}
