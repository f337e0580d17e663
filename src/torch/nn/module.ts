/**
 * nn.Module: parameters, buffers and sub-modules with PyTorch's names, so that `stateDict()` keys
 * are exactly the keys PyTorch would use for the same network (`cells.3.ops.2.weight`).
 */
import { native } from '../../native/binding';
import { keep, tidy } from '../memory';
import { Device, Placement, Tensor } from '../tensor';

/**
 * Base class of every layer and network.
 *
 * @example
 * class Net extends nn.Module {
 *   conv = this.registerModule('conv', new nn.Conv2d(3, 8, 3));
 *   forward(x: Tensor) { return this.conv.forward(x).relu(); }
 * }
 */
export abstract class Module {
  /** Whether the module is in training mode (see {@link train} / {@link eval}). */
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly children_ = new Map<string, Module>();

  /** Runs the module. Subclasses define it with the arguments they need. */
  abstract forward(...args: unknown[]): unknown;

  // ---- registration ---------------------------------------------------------------------------
  /** Registers a trainable parameter under `name` (requires grad; survives tidy scopes). */
  registerParameter(name: string, t: Tensor | null): Tensor {
    checkName(name, this);
    if (t) keep(t.requiresGrad_(true));
    this.params.set(name, t);
    return t as Tensor;
  }
  /** Registers a buffer (state that is saved but not trained, e.g. BatchNorm running stats). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor {
    checkName(name, this);
    if (t) keep(t);
    this.buffers.set(name, t);
    if (!persistent) this.nonPersistent.add(name);
    return t as Tensor;
  }
  /** Registers a sub-module; its parameters get the prefix `name.`. */
  registerModule<M extends Module>(name: string, m: M): M {
    checkName(name, this);
    this.children_.set(name, m);
    return m;
  }
  /** Replaces a registered parameter's tensor (the old one is not disposed). */
  setParameter(name: string, t: Tensor | null): void {
    if (!this.params.has(name)) throw new Error(`setParameter: ${this.constructor.name} has no parameter '${name}'`);
    if (t) keep(t);
    this.params.set(name, t);
  }
  setBuffer(name: string, t: Tensor | null): void {
    if (!this.buffers.has(name)) throw new Error(`setBuffer: ${this.constructor.name} has no buffer '${name}'`);
    if (t) keep(t);
    this.buffers.set(name, t);
  }
  /** Removes a sub-module (for pruning); returns it. */
  deleteModule(name: string): Module | undefined {
    const m = this.children_.get(name);
    this.children_.delete(name);
    return m;
  }
  getParameter(name: string): Tensor | null {
    return this.params.get(name) ?? null;
  }
  getBuffer(name: string): Tensor | null {
    return this.buffers.get(name) ?? null;
  }
  getModule(name: string): Module | undefined {
    return this.children_.get(name);
  }

  // ---- traversal ------------------------------------------------------------------------------
  /** Direct sub-modules with their names. */
  namedChildren(): [string, Module][] {
    return [...this.children_];
  }
  children(): Module[] {
    return [...this.children_.values()];
  }
  /** This module and every descendant, with dotted names ('' for this one). Shared modules appear once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.children_) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n, seen));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  /** Parameters with their state-dict names. A parameter shared by two modules appears once. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<number>();
    for (const [mn, m] of this.namedModules(prefix)) {
      for (const [n, p] of m.params) {
        if (!p || seen.has(p.handle)) continue;
        seen.add(p.handle);
        out.push([mn ? `${mn}.${n}` : n, p]);
      }
    }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mn, m] of this.namedModules(prefix)) {
      for (const [n, b] of m.buffers) {
        if (!b || (persistentOnly && m.nonPersistent.has(n))) continue;
        out.push([mn ? `${mn}.${n}` : n, b]);
      }
    }
    return out;
  }

  // ---- modes and grads ------------------------------------------------------------------------
  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Clears the gradients of every parameter (set to null, as PyTorch 2 does by default). */
  zeroGrad(setToNone = true): void {
    native.zeroGrad(
      this.parameters().map((p) => p.handle),
      setToNone,
    );
  }
  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }

  // ---- state ----------------------------------------------------------------------------------
  /**
   * Parameters and persistent buffers by PyTorch state-dict name. The tensors are the module's own
   * (not copies): detach or clone them before changing them.
   */
  stateDict(): Record<string, Tensor> {
    // Same key order as PyTorch: module by module, parameters before buffers.
    const sd: Record<string, Tensor> = {};
    const seen = new Set<number>();
    for (const [mn, m] of this.namedModules()) {
      const key = (n: string) => (mn ? `${mn}.${n}` : n);
      for (const [n, p] of m.params)
        if (p && !seen.has(p.handle)) {
          seen.add(p.handle);
          sd[key(n)] = p;
        }
      for (const [n, b] of m.buffers) if (b && !m.nonPersistent.has(n)) sd[key(n)] = b;
    }
    return sd;
  }
  /**
   * Copies values from `sd` into this module's tensors in place (identity is kept). With `strict`
   * (default), missing and unexpected keys are errors naming them.
   */
  loadStateDict(sd: Record<string, Tensor>, strict = true): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in sd));
    const unexpected = Object.keys(sd).filter((k) => !(k in own));
    if (strict && (missing.length || unexpected.length)) {
      throw new Error(
        `loadStateDict: keys do not match ${this.constructor.name}` +
          (missing.length ? `; missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}` : '') +
          (unexpected.length ? `; unexpected: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', ...' : ''}` : ''),
      );
    }
    for (const [k, t] of Object.entries(own)) {
      const src = sd[k];
      if (!src) continue;
      const a = t.shape,
        b = src.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new Error(`loadStateDict: '${k}' has shape [${b}] in the state dict but [${a}] in the module`);
      }
      t.copy_(src);
    }
    return { missing, unexpected };
  }
  /**
   * Moves every parameter and buffer to `device`, and/or lays every 4-D one out in `memoryFormat`
   * (`module.to(memory_format=...)` in PyTorch). As PyTorch's, it changes each tensor's data in
   * place: the parameter objects stay the same (fields that hold them, parameters shared between
   * modules, `requiresGrad`). A gradient left on another device than its parameter is dropped (a
   * relaid one is kept); optimizer state stays where it was, so make optimizers after a move.
   *
   * @example
   * net.to({ memoryFormat: 'channelsLast' }); // its convolutions then compute NHWC
   */
  to(target: Device | Placement): this {
    const { device, memoryFormat } = typeof target === 'string' ? { device: target, memoryFormat: undefined } : target;
    const update = (t: Tensor, isParam: boolean): void => {
      const move = device !== undefined && t.device !== device;
      const relay = memoryFormat !== undefined && t.ndim === 4 && (t.memoryFormat !== memoryFormat || !t.isContiguous(memoryFormat));
      if (!move && !relay) return;
      tidy(() => {
        const data = t.detach().to({ device: move ? device : undefined, memoryFormat: relay ? memoryFormat : undefined });
        native.setData(t.handle, data.handle);
        const g = isParam ? t.grad : null;
        if (g && g.device !== t.device) native.setGrad(t.handle, null);
      });
    };
    for (const m of this.modules()) {
      for (const p of m.params.values()) if (p) update(p, true);
      for (const b of m.buffers.values()) if (b) update(b, false);
    }
    return this;
  }
  /** Releases every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const p of m.params.values()) p?.dispose();
      for (const b of m.buffers.values()) b?.dispose();
    }
  }
}

function checkName(name: string, m: Module): void {
  if (!name || name.includes('.')) throw new Error(`${m.constructor.name}: invalid name '${name}' (must be non-empty, without '.')`);
}
