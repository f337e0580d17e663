/**
 * Command-line flags and config files -> a partial SearchConfig. Every field of FIELDS is a
 * kebab-case flag (`freezeEpoch` is `--freeze-epoch`); a config file (JSON or YAML) gives the
 * base and flags override it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIELDS, isModuleSpace, SearchConfig } from '../search/config';
import { FlagSpec, parseBool, parseCommand, UsageError } from './parse';

export const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Flags that are not config fields. */
export interface CliFlags {
  config?: string;
  resume?: string;
  json: boolean;
  quiet: boolean;
  help: boolean;
}

function parseValue(field: keyof SearchConfig, raw: string): unknown {
  const def = FIELDS[field].default;
  if (raw === 'null') return null;
  if (field === 'crop' || field === 'size') {
    const m = /^(\d+)[x,](\d+)$/.exec(raw);
    if (!m) throw new Error(`--${field} must look like 64x128 (height x width), got '${raw}'`);
    return [Number(m[1]), Number(m[2])];
  }
  if (field === 'archBetas') return raw.split(',').map(Number);
  if (field === 'entropyWeight' || field === 'temperature') return /^[{[]/.test(raw) ? JSON.parse(raw) : Number(raw);
  if (typeof def === 'boolean') {
    const b = parseBool(raw);
    if (b === null) throw new Error(`--${kebab(field)} is true or false, got '${raw}'`);
    return b;
  }
  if (Array.isArray(FIELDS[field].schema.enum)) return raw; // a choice among names
  if (
    typeof def === 'number' ||
    (def === null && FIELDS[field].schema.type !== 'string' && !(FIELDS[field].schema.type as string[] | undefined)?.includes('string'))
  ) {
    const n = Number(raw);
    if (Number.isNaN(n)) throw new Error(`--${kebab(field)} takes a number, got '${raw}'`);
    return n;
  }
  return raw;
}

/** Reads a JSON or YAML config file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`config file '${file}' cannot be read`);
  }
  let value: unknown;
  try {
    if (/\.ya?ml$/i.test(file)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const YAML = require('yaml') as { parse(s: string): unknown };
      value = YAML.parse(text);
    } else {
      value = JSON.parse(text);
    }
  } catch (e) {
    throw new Error(`config file '${file}' is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  const proto = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || (proto !== Object.prototype && proto !== null)) {
    // (a YAML tag such as !!binary or !!set gives a typed array or a Set: not settings either)
    const got =
      value === null
        ? 'null'
        : Array.isArray(value)
          ? 'an array'
          : typeof value === 'object'
            ? `a ${(proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'special'} value`
            : typeof value;
    throw new Error(`config file '${file}' must hold an object of settings ({"epochs": 20, ...}), not ${got}`);
  }
  return value as Record<string, unknown>;
}

/** The config file named by --config, or dnas.config.{json,yaml,yml} in the working directory. */
function findConfigFile(explicit?: string): string | null {
  if (explicit) return explicit;
  for (const name of ['dnas.config.json', 'dnas.config.yaml', 'dnas.config.yml']) {
    if (fs.existsSync(path.resolve(name))) return path.resolve(name);
  }
  return null;
}

/** The flags of the commands that run a search (search, train, demo): every field, and these. */
export const RUN_FLAGS: Record<string, FlagSpec> = {
  config: { type: 'string' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  ...Object.fromEntries(
    Object.entries(FIELDS).map(([k, f]) => [kebab(k), { type: typeof f.default === 'boolean' ? 'boolean' : 'string', field: k } as FlagSpec]),
  ),
};

/**
 * Parses argv of a command that runs a search into config overrides (config file, then flags)
 * and the other flags. `extra`: flags of the command beyond RUN_FLAGS (train's --genotype).
 */
export function parseSearchArgs(
  argv: string[],
  command = 'search',
  extra: Record<string, FlagSpec> = {},
): {
  partial: Record<string, unknown>;
  flags: CliFlags;
  source: string;
  fromFlags: string[];
  extra: Record<string, string | boolean>;
} {
  const r = parseCommand(command, argv, { ...RUN_FLAGS, ...extra });
  const flags: CliFlags = { json: r.values.json === true, quiet: r.values.quiet === true, help: r.help };
  if (typeof r.values.config === 'string') flags.config = r.values.config;
  if (typeof r.values.resume === 'string') flags.resume = r.values.resume;
  const fromFlags: Record<string, unknown> = {};
  for (const name of r.given) {
    const field = RUN_FLAGS[name]?.field as keyof SearchConfig | undefined;
    if (!field || extra[name]) continue;
    const v = r.values[name];
    try {
      fromFlags[field] = typeof v === 'boolean' ? v : parseValue(field, v);
    } catch (e) {
      throw new UsageError(`dnas ${command}: ${(e as Error).message}`);
    }
  }
  const extraValues = Object.fromEntries(
    Object.keys(extra)
      .filter((k) => k in r.values)
      .map((k) => [k, r.values[k]]),
  );
  if (r.help) return { partial: {}, flags, source: 'flags', fromFlags: [], extra: extraValues };
  const file = findConfigFile(flags.config);
  const base = file ? readConfigFile(file) : {};
  // Code runs only from a module the user names on the command line: a config file (perhaps
  // handed over with a run, perhaps lying in the working directory) never makes dnas load one.
  if (typeof base.space === 'string' && isModuleSpace(base.space) && !('space' in fromFlags)) {
    throw new UsageError(
      `dnas ${command}: ${file} names the space module ${base.space}; dnas loads a space module only from the command line: add --space ${base.space}`,
    );
  }
  return {
    partial: { ...base, ...fromFlags },
    flags,
    source: file ? `config (${file} and flags)` : 'flags',
    fromFlags: Object.keys(fromFlags),
    extra: extraValues,
  };
}

/**
 * `--help` text for the config flags, generated from FIELDS; `o.omit` leaves fields out and
 * `o.defaults` states a command's own defaults (dnas train's).
 */
export function flagHelp(o: { omit?: string[]; defaults?: Record<string, unknown> } = {}): string {
  return Object.entries(FIELDS)
    .filter(([k]) => !o.omit?.includes(k))
    .map(([k, f]) => `  --${kebab(k).padEnd(20)} ${f.doc} (default ${JSON.stringify(o.defaults && k in o.defaults ? o.defaults[k] : f.default)})`)
    .join('\n');
}
