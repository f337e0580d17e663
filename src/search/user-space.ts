/**
 * Search spaces of the user's own, as modules: `dnas search --space ./my-space.js` (or
 * `space: './my-space.js'` in a config) loads a CommonJS module that builds a supernet from the
 * library's layers and labelled choices (`LayerChoice`, `InputChoice`), and the whole protocol
 * runs on it as on a built-in space (src/space CustomSpace: decode, derive with inherited
 * weights, build, random genotypes).
 *
 * The module exports either the supernet function itself or an object:
 *
 * @example
 * // my-space.js
 * const { torch, space } = require('dnas');
 * module.exports = {
 *   name: 'tiny-seg',              // the genotypes' `space` (default: the file name)
 *   task: 'segmentation',          // optional: checked against the data set
 *   supernet: ({ inChannels, numClasses }) => new torch.nn.Sequential(
 *     new torch.nn.Conv2d(inChannels, 8, 3, { padding: 1 }),
 *     new space.LayerChoice({ conv: new torch.nn.Conv2d(8, 8, 3, { padding: 1 }), skip: new torch.nn.Identity() }, { label: 'b1' }),
 *     new torch.nn.Conv2d(8, numClasses, 1),
 *   ),
 * };
 *
 * A run folder never makes dnas load code: config.json records the module's path and SHA-256,
 * and every later command on the run (resume, eval, export, predict, report, train) loads it only
 * when the user names it again with `--space FILE` ({@link spaceForSavedRun}).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CustomSpace } from '../space';
import { nn } from '../torch';
import { isModuleSpace, SPACES } from './config';

/** What a space module's supernet function receives. */
export interface SpaceContext {
  /** Input channels of the data set's images. */
  inChannels: number;
  /** Classes the network must output (logits [N, classes, H, W] or [N, classes]). */
  numClasses: number;
  task: 'segmentation' | 'classification';
  /** The run's settings (`layers`, `channels`, `nodes`, ... are there for the module to use). */
  config: Readonly<Record<string, unknown>>;
}

/** A loaded space module. */
export interface UserSpace {
  /** Absolute path of the module file. */
  file: string;
  /** SHA-256 of the file's bytes (hex), recorded in config.json. */
  sha256: string;
  /** The genotypes' space name. */
  name: string;
  task: 'segmentation' | 'classification' | null;
  supernet(ctx: SpaceContext): nn.Module;
}

/** SHA-256 (hex) of a file's bytes. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Loads the space module `file` (resolved against the working directory). Errors name the file
 * and say what is expected of it.
 */
export function loadUserSpace(file: string): UserSpace {
  const abs = path.resolve(file);
  const where = `space module ${abs}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new Error(`${where} does not exist (--space takes a built-in space, ${SPACES.join(', ')}, or the path of a .js module)`);
  }
  if (!st.isFile()) throw new Error(`${where} is not a file`);
  const sha256 = fileSha256(abs);
  let exported: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the user's module is CommonJS by contract
    exported = require(abs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'ERR_REQUIRE_ESM' ? ' (it is an ES module: write the space module in CommonJS, module.exports = ..., or name it .cjs)' : '';
    throw new Error(`${where} failed to load: ${err.message}${hint}`);
  }
  const o = (typeof exported === 'function' ? { supernet: exported } : exported) as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || typeof o.supernet !== 'function') {
    throw new Error(`${where} must export a function (ctx) => supernet module, or an object { name?, task?, supernet(ctx) } (see docs/spaces.md)`);
  }
  const name = o.name === undefined ? path.basename(abs).replace(/\.c?js$/, '') : o.name;
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) throw new Error(`${where}: 'name' must be 1-64 letters, digits, '_', '.' or '-'`);
  if ((SPACES as readonly string[]).includes(name)) throw new Error(`${where}: 'name' ${name} is a built-in space's; choose another`);
  const task = o.task === undefined ? null : o.task;
  if (task !== null && task !== 'segmentation' && task !== 'classification') throw new Error(`${where}: 'task' must be 'segmentation' or 'classification'`);
  const supernet = o.supernet as (ctx: SpaceContext) => unknown;
  return {
    file: abs,
    sha256,
    name,
    task,
    supernet: (ctx) => {
      const m = supernet(ctx);
      if (!(m instanceof nn.Module)) {
        throw new Error(
          `${where}: supernet() returned ${m === null ? 'null' : typeof m}, not a dnas module (is it built with the same dnas the command runs? require('dnas') from the module's folder must find it)`,
        );
      }
      return m;
    },
  };
}

/**
 * The supernet of a space module as a search space. A module without a single labelled choice
 * is refused: there would be nothing to search (or its choices come from another copy of dnas).
 */
export function userSearchSpace(u: UserSpace, ctx: SpaceContext): CustomSpace {
  if (u.task && u.task !== ctx.task) throw new Error(`space module ${u.file} is for ${u.task}; the data set is ${ctx.task}`);
  const space = new CustomSpace(() => u.supernet(ctx), { name: u.name });
  if (space.choices().length === 0) {
    space.dispose();
    throw new Error(
      `space module ${u.file}: the supernet has no LayerChoice or InputChoice, so there is nothing to search (if it has some, they come from another copy of dnas than the one running: require('dnas') must resolve to it)`,
    );
  }
  return space;
}

/**
 * The `space` setting for a command on a run that already exists: a built-in space as saved; for a
 * run searched in a space module, the module the user names now (`given`, from --space), never the
 * path config.json records (a run folder someone hands over must not run code). A module whose
 * bytes differ from the recorded SHA-256 is accepted with `warn` (an edit that keeps the network
 * still loads; one that changes it fails when the weights are loaded).
 */
export function spaceForSavedRun(
  saved: { space: string; spaceSha256?: unknown },
  given: string | undefined,
  runDir: string,
  warn: (msg: string) => void,
): string {
  if (!isModuleSpace(saved.space)) {
    if (given !== undefined && given !== saved.space)
      throw new Error(`${runDir} was searched in the built-in space '${saved.space}'; --space ${given} does not fit it`);
    return saved.space;
  }
  if (given === undefined) {
    throw new Error(
      `${runDir} was searched in the space module ${saved.space}; dnas does not load code a run folder names: pass --space ${saved.space} (or the module's current path) to use it`,
    );
  }
  if (!isModuleSpace(given)) throw new Error(`${runDir} was searched in the space module ${saved.space}; --space ${given} is a built-in space`);
  const abs = path.resolve(given);
  if (typeof saved.spaceSha256 === 'string' && fs.existsSync(abs) && fileSha256(abs) !== saved.spaceSha256) {
    warn(
      `space module ${abs} has changed since the run was made (SHA-256 differs from config.json's); if the network it builds changed too, its weights will not load`,
    );
  }
  return abs;
}
