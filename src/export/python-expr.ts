/**
 * Python expressions of the generated model.py and their layout. A Python exporter returns the
 * construction expression of its module as a tree of calls, lists, tuples and dicts
 * ({@link py}); {@link formatPython} prints it with 4-space indents: a call on one line when it
 * fits and holds at most one other call, otherwise one module per line (short plain arguments
 * packed together, a trailing container opened on the caller's line).
 */

/** A value {@link py} turns into Python: numbers, strings, booleans, null (None), arrays (lists), plain objects (dicts), or expressions. */
export type PyValue = PyExpr | number | string | boolean | null | readonly PyValue[] | { readonly [key: string]: PyValue };

interface PyItem {
  /** Keyword of a call argument, or the key of a dict entry. */
  key?: string;
  value: PyExpr;
}

type Kind = 'raw' | 'call' | 'list' | 'tuple' | 'dict';

/** One Python expression (make them with {@link py}). */
export class PyExpr {
  /** @internal */
  constructor(
    readonly kind: Kind,
    /** Source text (raw) or the callee (call). */
    readonly head: string,
    readonly items: readonly PyItem[],
  ) {}

  /** The expression on one line. */
  toString(): string {
    return flat(this);
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** A Python string literal (single quotes; control and line-separator characters escaped). */
function pyString(s: string): string {
  let body = '';
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (ESCAPES[c]) body += ESCAPES[c];
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) body += `\\u${code.toString(16).padStart(4, '0')}`;
    else body += c;
  }
  return `'${body}'`;
}

function pyNumber(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`Python export: cannot write the number ${v}`);
  return Object.is(v, -0) ? '-0.0' : String(v);
}

const itemsOf = (values: readonly PyValue[]): PyItem[] => values.map((v) => ({ value: toExpr(v) }));

function toExpr(v: PyValue): PyExpr {
  if (v instanceof PyExpr) return v;
  if (v === null) return new PyExpr('raw', 'None', []);
  if (typeof v === 'boolean') return new PyExpr('raw', v ? 'True' : 'False', []);
  if (typeof v === 'number') return new PyExpr('raw', pyNumber(v), []);
  if (typeof v === 'string') return new PyExpr('raw', pyString(v), []);
  if (Array.isArray(v)) return new PyExpr('list', '', itemsOf(v as readonly PyValue[]));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return new PyExpr(
      'dict',
      '',
      Object.entries(v as Record<string, PyValue>).map(([key, x]) => ({ key, value: toExpr(x) })),
    );
  throw new TypeError(`Python export: cannot write ${typeof v} ${String(v)} as a Python value`);
}

/**
 * Builders of Python expressions.
 *
 * @example
 * py.call('nn.Conv2d', [3, 8, 3], { stride: 2, padding: 1, bias: false }).toString();
 * // "nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)"
 */
export const py = {
  /** A call `fn(args..., key=value...)`; keyword arguments that are undefined are left out. */
  call(fn: string, args: readonly PyValue[] = [], kwargs: Record<string, PyValue | undefined> = {}): PyExpr {
    const items = itemsOf(args);
    for (const [key, v] of Object.entries(kwargs)) {
      if (v === undefined) continue;
      if (!IDENT.test(key)) throw new TypeError(`Python export: '${key}' is not a keyword argument name`);
      items.push({ key, value: toExpr(v) });
    }
    return new PyExpr('call', fn, items);
  },
  /** A list. */
  list(items: readonly PyValue[]): PyExpr {
    return new PyExpr('list', '', itemsOf(items));
  },
  /** A tuple. */
  tuple(items: readonly PyValue[]): PyExpr {
    return new PyExpr('tuple', '', itemsOf(items));
  },
  /** A dict with string keys, in the given order. */
  dict(entries: Iterable<[string, PyValue]>): PyExpr {
    return new PyExpr(
      'dict',
      '',
      [...entries].map(([key, v]) => ({ key, value: toExpr(v) })),
    );
  },
  /** Any JSON-like value as a Python literal (objects become dicts, null None). */
  value(v: PyValue): PyExpr {
    return toExpr(v);
  },
  /** Source text used as it is (a name, or an expression on one line). */
  raw(code: string): PyExpr {
    if (/[\r\n]/.test(code)) throw new TypeError('py.raw: the code must be on one line');
    return new PyExpr('raw', code, []);
  },
};

const BRACKETS: Record<Exclude<Kind, 'raw'>, [string, string]> = { call: ['(', ')'], list: ['[', ']'], tuple: ['(', ')'], dict: ['{', '}'] };

function open(e: PyExpr): string {
  return e.kind === 'call' ? `${e.head}(` : BRACKETS[e.kind as Exclude<Kind, 'raw'>][0];
}
function close(e: PyExpr): string {
  return BRACKETS[e.kind as Exclude<Kind, 'raw'>][1];
}
function prefix(e: PyExpr, item: PyItem): string {
  if (item.key === undefined) return '';
  return e.kind === 'dict' ? `${pyString(item.key)}: ` : `${item.key}=`;
}

function flat(e: PyExpr): string {
  if (e.kind === 'raw') return e.head;
  const inner = e.items.map((it) => prefix(e, it) + flat(it.value)).join(', ');
  return open(e) + inner + (e.kind === 'tuple' && e.items.length === 1 ? ',' : '') + close(e);
}

/** Calls inside `e` (not counting `e` itself). */
function innerCalls(e: PyExpr): number {
  return e.items.reduce((n, it) => n + (it.value.kind === 'call' ? 1 : 0) + innerCalls(it.value), 0);
}

/** An item without calls: packed with its neighbours when a call breaks over lines. */
const plain = (it: PyItem) => it.value.kind !== 'call' && innerCalls(it.value) === 0;

/** Line width of the generated code. */
export const PY_WIDTH = 100;

/**
 * `e` laid out for a line where it starts at column `col`, continuation lines indented by
 * `indent` spaces.
 */
export function formatPython(e: PyExpr, col = 0, indent = 0): string {
  const one = flat(e);
  if (e.kind === 'raw' || e.items.length === 0 || (col + one.length < PY_WIDTH && innerCalls(e) <= 1)) return one;
  const items = e.items;
  const last = items[items.length - 1];
  // The last argument opens on this line when every argument before it is plain: f(a, b, [
  if (items.slice(0, -1).every(plain) && !plain(last)) {
    const head =
      open(e) +
      items
        .slice(0, -1)
        .map((it) => `${prefix(e, it)}${flat(it.value)}, `)
        .join('') +
      prefix(e, last);
    if (col + head.length + open(last.value).length < PY_WIDTH) return head + formatPython(last.value, col + head.length, indent) + close(e);
  }
  const pad = ' '.repeat(indent + 4);
  const lines: string[] = [];
  let line = '';
  const flush = () => {
    if (line) lines.push(pad + line);
    line = '';
  };
  for (const it of items) {
    const p = prefix(e, it);
    const text = `${p}${flat(it.value)},`;
    if (plain(it) && pad.length + text.length <= PY_WIDTH) {
      if (line && pad.length + line.length + 1 + text.length > PY_WIDTH) flush();
      line = line ? `${line} ${text}` : text;
    } else {
      flush();
      lines.push(`${pad}${p}${formatPython(it.value, pad.length + p.length, indent + 4)},`);
    }
  }
  flush();
  return `${open(e)}\n${lines.join('\n')}\n${' '.repeat(indent)}${close(e)}`;
}
