/**
 * A run's saved settings (config.json), read back for a command on an existing run: resume, eval,
 * export, predict, report. Fields config.json keeps about the run itself (its id, the versions
 * that made it, the space module's SHA-256) are left out; a space module is the one the user names
 * now (src/search/user-space.ts spaceForSavedRun), never the path the file records.
 */
import { defaultConfig, SearchConfig } from './config';
import { RunDir } from './rundir';
import { spaceForSavedRun } from './user-space';

/** Options of {@link savedSettings}. */
export interface SavedRunOptions {
  /** The space module the user names for this command (`--space FILE`); needed for a run searched in one. */
  space?: string;
  /** Where a warning goes (a changed space module); default: process.emitWarning. */
  warn?: (message: string) => void;
}

const emit = (message: string) => process.emitWarning(message, 'DnasWarning');

/**
 * config.json of `run` as settings (not yet over the defaults), with `space` settled.
 *
 * @example
 * const cfg = resolveConfig({ ...savedSettings(run, { space: flags.space }), threads: 2 });
 */
export function savedSettings(run: RunDir, o: SavedRunOptions = {}): Record<string, unknown> {
  if (!run.exists()) throw new Error(`${run.dir}: no run there (config.json missing)`);
  const saved = run.readJson<unknown>(run.configFile);
  if (!saved || typeof saved !== 'object' || Array.isArray(saved)) throw new Error(`${run.configFile}: expected an object of settings`);
  const s = { ...(saved as Record<string, unknown>) };
  const recorded = s.space ?? defaultConfig().space;
  if (typeof recorded !== 'string') throw new Error(`${run.configFile}: 'space' must be a string`);
  const space = spaceForSavedRun({ space: recorded, spaceSha256: s.spaceSha256 }, o.space, run.dir, o.warn ?? emit);
  delete s.versions;
  delete s.runId;
  delete s.spaceSha256;
  delete s.network;
  delete s.processes; // how many ranks made it: a resume may use another number
  return { ...s, space };
}

/** What the run's network takes and gives, as config.json records it (null for runs made before it did, or a malformed record). */
export function savedNetwork(run: RunDir): { task: 'segmentation' | 'classification'; inChannels: number; numClasses: number } | null {
  const saved = run.readJson<Record<string, unknown>>(run.configFile);
  const n = saved && typeof saved === 'object' ? (saved.network as Record<string, unknown> | undefined) : undefined;
  if (!n || typeof n !== 'object') return null;
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65536;
  if ((n.task !== 'segmentation' && n.task !== 'classification') || !count(n.inChannels) || !count(n.numClasses)) return null;
  return { task: n.task, inChannels: n.inChannels as number, numClasses: n.numClasses as number };
}

/** config.json of `run` over the current defaults (settings added since the run keep their defaults). */
export function savedConfig(run: RunDir, o: SavedRunOptions = {}): SearchConfig {
  return { ...defaultConfig(), ...savedSettings(run, o) } as SearchConfig;
}
