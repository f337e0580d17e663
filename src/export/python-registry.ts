/**
 * The Python exporter table: one emitter per module class, keyed by the exact class, as for ONNX
 * (registry.ts). An emitter returns the Python expression that constructs its module (calling
 * {@link PythonContext.build} for its sub-modules) and names the Python classes that expression
 * needs: dnas's own from python/dnas_modules.py ({@link PythonContext.useClass}), a user's as
 * source text ({@link PythonContext.define}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nn } from '../torch';
import { ExporterTable, ModuleClass, ModuleExportError, shownPath } from './exporter-table';
import { PyExpr } from './python-expr';

/** Returns the Python construction expression of module `m` (see {@link registerPythonExporter}). */
// (`any`: emitters of every module class share one registry)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PythonEmitter<M extends nn.Module = any> = (ctx: PythonContext, m: M) => PyExpr;

const table = new ExporterTable<PythonEmitter>('registerPythonExporter', 'a Python');

/**
 * Registers the Python exporter of a module class (an error if the class has one, unless
 * `override`). Subclasses are not covered: a subclass may change `forward`, so it needs its own.
 * The emitter returns the expression that builds the module in PyTorch, with the same state-dict
 * keys and the same forward computation; a class of your own is given to
 * {@link PythonContext.define} as Python source.
 *
 * @example
 * registerPythonExporter(Swish, (ctx) => {
 *   ctx.define('Swish', 'class Swish(nn.Module):\n    def forward(self, x):\n        return x * torch.sigmoid(x)\n');
 *   return py.call('Swish');
 * });
 */
export function registerPythonExporter<M extends nn.Module>(cls: ModuleClass<M>, emitter: PythonEmitter<M>, opts: { override?: boolean } = {}): void {
  table.set(cls, emitter as PythonEmitter, opts);
}

/** Whether modules of this exact class can be exported to Python. */
export function hasPythonExporter(cls: ModuleClass<nn.Module>): boolean {
  return table.has(cls);
}

/** A module (or one of its descendants) that cannot be exported to Python; the message names its class and path. */
export class PythonExportError extends ModuleExportError {
  override name = 'PythonExportError';
}

interface LibraryClass {
  source: string;
  needs: string[];
  order: number;
}

let library: Map<string, LibraryClass> | null = null;

/** The file of dnas's Python classes (shipped with the package). */
export const PYTHON_MODULES_FILE = path.join(__dirname, '..', '..', '..', 'python', 'dnas_modules.py');

/** The classes and functions of python/dnas_modules.py by name: each from its `# dnas: Name [needs A, B]` marker to the next. */
function pythonLibrary(): Map<string, LibraryClass> {
  if (library) return library;
  let text: string;
  try {
    text = fs.readFileSync(PYTHON_MODULES_FILE, 'utf8');
  } catch (e) {
    throw new Error(`Python export: cannot read dnas's Python classes (${PYTHON_MODULES_FILE}): ${(e as Error).message}`);
  }
  const out = new Map<string, LibraryClass>();
  let current: { name: string; needs: string[]; lines: string[] } | null = null;
  const finish = () => {
    if (current) out.set(current.name, { source: current.lines.join('\n').trimEnd() + '\n', needs: current.needs, order: out.size });
  };
  for (const line of text.split('\n')) {
    const m = /^# dnas: ([A-Za-z_]\w*)(?: needs ([\w, ]+))?\s*$/.exec(line);
    if (m) {
      finish();
      current = { name: m[1], needs: m[2] ? m[2].split(',').map((s) => s.trim()) : [], lines: [] };
    } else if (current) current.lines.push(line);
  }
  finish();
  library = out;
  return out;
}

/** What an emitter works with: module paths, sub-module expressions and the Python classes the file needs. */
export class PythonContext {
  private readonly paths = new Map<nn.Module, string>();
  private readonly built = new Set<nn.Module>();
  private readonly classes = new Map<string, { source: string; order: number }>();
  private readonly stack: string[] = [];
  private userClasses = 0;

  constructor(readonly root: nn.Module) {
    for (const [p, m] of root.namedModules()) this.paths.set(m, p);
  }

  /** The dotted path of `m` inside the exported module ('' for the root). */
  pathOf(m: nn.Module): string {
    const p = this.paths.get(m);
    if (p !== undefined) return p;
    const parent = this.stack[this.stack.length - 1];
    return `${parent ? `${parent}.` : ''}<${m.constructor.name}>`;
  }

  /** The Python expression that constructs `m`, from its registered emitter. */
  build(m: nn.Module): PyExpr {
    const path = this.pathOf(m);
    const emitter = table.of(m);
    if (!emitter) {
      throw new PythonExportError(
        `Python export: no exporter for module ${m.constructor.name} at ${shownPath(path)}; register one with registerPythonExporter(${m.constructor.name}, ...)`,
        m.constructor.name,
        path,
      );
    }
    if (this.built.has(m))
      this.fail(m, 'is used twice (a shared module): PyTorch would list its tensors under each use in the state dict, and dnas lists them once');
    this.built.add(m);
    this.stack.push(path);
    try {
      return emitter(this, m);
    } catch (e) {
      if (e instanceof PythonExportError) throw e;
      throw new PythonExportError(`Python export of ${m.constructor.name} at ${shownPath(path)}: ${(e as Error).message}`, m.constructor.name, path);
    } finally {
      this.stack.pop();
    }
  }

  /** Throws a {@link PythonExportError} about module `m`. */
  fail(m: nn.Module, why: string): never {
    const path = this.pathOf(m);
    throw new PythonExportError(`Python export: ${m.constructor.name} at ${shownPath(path)} ${why}`, m.constructor.name, path);
  }

  /** Puts dnas's Python class (or function) `name` (python/dnas_modules.py) and what it needs into the file; returns `name`. */
  useClass(name: string): string {
    const c = pythonLibrary().get(name);
    if (!c) throw new Error(`Python export: python/dnas_modules.py has no class or function ${name}`);
    const had = this.classes.get(name);
    if (had && had.source !== c.source) throw new Error(`Python export: two different definitions of ${name} (one defined by an exporter, one of dnas's)`);
    if (had) return name;
    this.classes.set(name, { source: c.source, order: c.order });
    for (const n of c.needs) this.useClass(n);
    return name;
  }

  /** Puts a Python class (or function) of your own, as source text, into the file; returns `name`. */
  define(name: string, source: string): string {
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new TypeError(`Python export: '${name}' is not a Python name`);
    const text = source.trimEnd() + '\n';
    const had = this.classes.get(name);
    if (had && had.source !== text) throw new Error(`Python export: two different definitions of ${name}`);
    if (!had) this.classes.set(name, { source: text, order: 1e6 + this.userClasses++ }); // after dnas's own
    return name;
  }

  /** The sources of the classes used so far: dnas's in the order of python/dnas_modules.py, then the others in definition order. */
  classSources(): string[] {
    return [...this.classes.values()].sort((a, b) => a.order - b.order).map((c) => c.source);
  }
}
