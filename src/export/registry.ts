/**
 * The ONNX exporter table: one emitter per module class, keyed by the exact class, so that the
 * modules themselves (src/torch/nn, src/space) hold no ONNX code. An emitter receives the export
 * context, the module and the graph values of its forward arguments, and returns the value of its
 * output; it calls {@link OnnxContext.call} for its sub-modules.
 */
import { nn, Tensor, tidy } from '../torch';
import { ExporterTable, ModuleClass, ModuleExportError, shownPath } from './exporter-table';
import { GraphBuilder, Value } from './graph';
import { makeTensor } from './onnx-proto';

/**
 * Emits the ONNX nodes of a module's forward pass. `args` are the forward arguments as graph
 * values (or whatever non-tensor arguments the module's forward takes).
 */
// (`any`: emitters of every module class share one registry, each with its own arguments)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OnnxEmitter<M extends nn.Module = any> = (ctx: OnnxContext, m: M, ...args: any[]) => Value;

const table = new ExporterTable<OnnxEmitter>('registerOnnxExporter', 'an ONNX');

/**
 * Registers the ONNX emitter of a module class (an error if the class has one, unless
 * `override`). Subclasses are not covered: a subclass may change `forward`, so it needs its own.
 *
 * @example
 * registerOnnxExporter(Swish, (ctx, m, x) => ctx.graph.mul(x, ctx.graph.op('Sigmoid', [x], {}, x.shape)));
 */
export function registerOnnxExporter<M extends nn.Module>(cls: ModuleClass<M>, emitter: OnnxEmitter<M>, opts: { override?: boolean } = {}): void {
  table.set(cls, emitter as OnnxEmitter, opts);
}

/** Whether modules of this exact class can be exported. */
export function hasOnnxExporter(cls: ModuleClass<nn.Module>): boolean {
  return table.has(cls);
}

/** A module (or one of its descendants) that cannot be exported; the message names its class and path. */
export class OnnxExportError extends ModuleExportError {
  override name = 'OnnxExportError';
}

/** What an emitter works with: the graph, module paths, and the module tensors as initializers. */
export class OnnxContext {
  private readonly paths = new Map<nn.Module, string>();
  private readonly tensorNames = new Map<number, string>();
  private readonly tensorValues = new Map<number, Value>();
  private readonly stack: string[] = [];

  constructor(
    readonly graph: GraphBuilder,
    readonly root: nn.Module,
  ) {
    for (const [p, m] of root.namedModules()) this.paths.set(m, p);
    for (const [k, t] of Object.entries(root.stateDict())) if (!this.tensorNames.has(t.handle)) this.tensorNames.set(t.handle, k);
  }

  /** The dotted path of `m` inside the exported module ('' for the root). */
  pathOf(m: nn.Module): string {
    const p = this.paths.get(m);
    if (p !== undefined) return p;
    const parent = this.stack[this.stack.length - 1];
    return `${parent ? `${parent}.` : ''}<${m.constructor.name}>`;
  }

  /** Emits `m`'s forward on `args` with its registered emitter. */
  call(m: nn.Module, ...args: unknown[]): Value {
    const path = this.pathOf(m);
    const emitter = table.of(m);
    if (!emitter) {
      throw new OnnxExportError(
        `ONNX export: no exporter for module ${m.constructor.name} at ${shownPath(path)}; register one with registerOnnxExporter(${m.constructor.name}, ...)`,
        m.constructor.name,
        path,
      );
    }
    const scope = this.graph.scope;
    this.stack.push(path);
    this.graph.scope = path;
    try {
      return emitter(this, m, ...args);
    } catch (e) {
      if (e instanceof OnnxExportError) throw e;
      throw new OnnxExportError(`ONNX export of ${m.constructor.name} at ${shownPath(path)}: ${(e as Error).message}`, m.constructor.name, path);
    } finally {
      this.stack.pop();
      this.graph.scope = scope;
    }
  }

  /** Throws an {@link OnnxExportError} about module `m`. */
  fail(m: nn.Module, why: string): never {
    const path = this.pathOf(m);
    throw new OnnxExportError(`ONNX export: ${m.constructor.name} at ${shownPath(path)} ${why}`, m.constructor.name, path);
  }

  /**
   * `t` as a float32 initializer named by its state-dict key (the same tensor gives the same
   * value). `fallback` names tensors outside the state dict.
   */
  tensor(t: Tensor, fallback: string): Value {
    const hit = this.tensorValues.get(t.handle);
    if (hit) return hit;
    if (t.disposed || !t.isLive) throw new Error(`the tensor '${this.tensorNames.get(t.handle) ?? fallback}' was disposed`);
    const data = tidy(() => t.detach().to({ dtype: 'float32', device: 'cpu' }).contiguous().data()) as Float32Array;
    const v = this.graph.initializer(makeTensor(this.tensorNames.get(t.handle) ?? fallback, t.shape, data));
    this.tensorValues.set(t.handle, v);
    return v;
  }

  /** The parameter or buffer `name` of `m` as an initializer, or null when `m` has none. */
  param(m: nn.Module, name: string): Value | null {
    const t = m.getParameter(name) ?? m.getBuffer(name);
    if (!t) return null;
    const p = this.pathOf(m);
    return this.tensor(t, p ? `${p}.${name}` : name);
  }
}
