/**
 * What the ONNX and the Python exporters share: a table of emitters keyed by the exact module
 * class (registry.ts, python-registry.ts), and the error that names the module a network could
 * not be exported at.
 */
import { nn } from '../torch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a constructor of any signature
export type ModuleClass<M extends nn.Module> = abstract new (...args: any[]) => M;

/**
 * Emitters by exact module class. Subclasses are not covered: a subclass may change `forward`, so
 * it needs its own.
 */
export class ExporterTable<E> {
  private readonly table = new Map<ModuleClass<nn.Module>, E>();

  /** @param register the public function's name, @param format the format's name, for messages */
  constructor(
    private readonly register: string,
    private readonly format: string,
  ) {}

  /** Registers `emitter` for `cls` (an error if the class has one, unless `override`). */
  set(cls: ModuleClass<nn.Module>, emitter: E, opts: { override?: boolean } = {}): void {
    if (typeof cls !== 'function') throw new TypeError(`${this.register}: expected a module class`);
    if (typeof emitter !== 'function') throw new TypeError(`${this.register}(${cls.name}): the emitter must be a function`);
    if (this.table.has(cls) && !opts.override)
      throw new Error(`${this.register}: ${cls.name} already has ${this.format} exporter (pass { override: true } to replace it)`);
    this.table.set(cls, emitter);
  }

  has(cls: ModuleClass<nn.Module>): boolean {
    return this.table.has(cls);
  }

  /** The emitter of `m`'s exact class, if any. */
  of(m: nn.Module): E | undefined {
    return this.table.get(m.constructor as ModuleClass<nn.Module>);
  }
}

/** A module (or one of its descendants) that cannot be exported; the message names its class and path. */
export class ModuleExportError extends Error {
  override name = 'ModuleExportError';
  constructor(
    message: string,
    readonly moduleClass?: string,
    readonly modulePath?: string,
  ) {
    super(message);
  }
}

/** A module path as messages show it. */
export const shownPath = (p: string): string => (p ? `'${p}'` : 'the root');
