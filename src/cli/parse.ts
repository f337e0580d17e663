/**
 * The one argument parser of every `dnas` command. Flags are `--name value` or `--name=value`;
 * boolean flags are `--name`, `--name=false` or `--name false`; `-h` and `--help` ask for the
 * command's help (the caller prints it and does nothing else); `--` ends the flags. A mistake is a
 * UsageError: the command line exits with code 2 and says what to run for help.
 */

/** A wrong command line (exit code 2), as opposed to a failure while running (exit code 1). */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** One flag: a value, or a boolean switch. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** The settings field a flag stands for, when the command keeps the mapping (search flags). */
  field?: string;
}

export interface ParsedCommand {
  /** Flag values by flag name (kebab-case, as typed). Booleans are true/false, values strings. */
  values: Record<string, string | boolean>;
  /** Flags in the order given (names), for commands that care which ones were set. */
  given: string[];
  positionals: string[];
  /** -h or --help was given: print the help and stop. */
  help: boolean;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A boolean flag's value from text; null when it is not one. */
export function parseBool(raw: string): boolean | null {
  const v = raw.toLowerCase();
  return TRUE.has(v) ? true : FALSE.has(v) ? false : null;
}

/**
 * Parses `argv` of `dnas <command>` against `flags`. `positionals`: how many plain arguments the
 * command takes at most (Infinity: any number).
 *
 * @example
 * const r = parseCommand('eval', ['runs/a', '--threads=2'], { threads: { type: 'string' } }, { positionals: 1 });
 * // r.values.threads === '2', r.positionals = ['runs/a']
 */
export function parseCommand(command: string, argv: string[], flags: Record<string, FlagSpec>, o: { positionals?: number } = {}): ParsedCommand {
  const out: ParsedCommand = { values: {}, given: [], positionals: [], help: false };
  const hint = `see dnas ${command} --help`;
  const maxPositionals = o.positionals ?? 0;
  let flagsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flagsDone || !a.startsWith('-') || a === '-') {
      if (out.positionals.length >= maxPositionals) {
        throw new UsageError(
          maxPositionals === 0
            ? `dnas ${command} takes no argument '${a}' (flags look like --name value); ${hint}`
            : `dnas ${command}: unexpected extra argument '${a}'; ${hint}`,
        );
      }
      out.positionals.push(a);
      continue;
    }
    if (a === '--') {
      flagsDone = true;
      continue;
    }
    if (a === '-h' || a === '--help') {
      out.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`dnas ${command}: unknown flag ${a}; ${hint}`);
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const spec = flags[name];
    if (!spec) throw new UsageError(`dnas ${command}: unknown flag --${name}; ${hint}`);
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const b = parseBool(a.slice(eq + 1));
        if (b === null) throw new UsageError(`dnas ${command}: --${name} is true or false, got '${a.slice(eq + 1)}'`);
        value = b;
      } else {
        // `--name false` reads the next word only when it is a boolean
        const b = i + 1 < argv.length ? parseBool(argv[i + 1]) : null;
        if (b !== null) i++;
        value = b ?? true;
      }
    } else if (eq >= 0) {
      value = a.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`dnas ${command}: --${name} needs a value; ${hint}`);
      value = argv[++i];
    }
    out.values[name] = value;
    out.given.push(name);
  }
  return out;
}
