/**
 * Writing output files without following links. A run folder, an output folder or a file in it
 * may be a symbolic link planted by someone else; writing through it would overwrite its target.
 * These helpers refuse links, write to a fresh temporary file (O_EXCL never follows a link) and
 * rename it over the target (a rename replaces a name, never what a link points to).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Makes sure `dir` is a real folder: refuses a symbolic link or a file there, creates it (and
 * missing parents) otherwise. `who` names the caller in errors.
 *
 * @example
 * ensureDirNoFollow('runs/cs/samples', 'writeSamplePredictions');
 */
export function ensureDirNoFollow(dir: string, who: string): void {
  const st = lstatOrNull(dir);
  if (!st) {
    fs.mkdirSync(dir, { recursive: true });
    return;
  }
  if (st.isSymbolicLink()) throw new Error(`${who}: ${dir} is a symbolic link; refusing to write through it`);
  if (!st.isDirectory()) throw new Error(`${who}: ${dir} exists and is not a folder`);
}

/**
 * Writes `data` to `file` atomically without following links; a target that is a link or not a
 * regular file is refused and left as it is.
 *
 * @example
 * writeFileNoFollow('out/a_mask.png', png, 'predictImages');
 */
export function writeFileNoFollow(file: string, data: Buffer, who = 'dnas'): void {
  const st = lstatOrNull(file);
  if (st && st.isSymbolicLink()) throw new Error(`${who}: ${file} is a symbolic link; refusing to write through it`);
  if (st && !st.isFile()) throw new Error(`${who}: ${file} exists and is not a regular file`);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    try {
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
