/**
 * Genotypes: a decoded architecture as versioned JSON (schema in docs/spaces.md), its validation,
 * load/save, and the DARTS decoding rule for cells.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../torch/io';
import { hasOp, registeredOps, ZERO_OP } from './ops';

/** The schema version written by this code. */
export const GENOTYPE_VERSION = 1;

/** One cell: `[operation, input]` pairs, node by node (inputs: cell inputs first, then nodes). */
export type CellGenotype = [string, number][];

/**
 * A decoded architecture (schema version 1). Which fields are present depends on the space:
 * `cells` for every cell space; `path` for the short lattice; `output` and `inputs` for the dense
 * lattice; `choices` for user-declared spaces. Keys of `cells`, `inputs` and `choices` are choice
 * labels.
 */
export type Genotype = {
  version: 1;
  /** 'darts', 'lattice', 'lattice-dense', 'lattice-fusion', 'lattice-adl' or a user space's name. */
  space: string;
  /**
   * The space settings at decode time (informative; build() uses the space's own, except the
   * lattice's `inputSize`, which fixes the ASPP rates of the built network).
   */
  settings?: Record<string, unknown>;
  /** Cell label → operations and inputs (DARTS: `normal`, `reduce`; lattice: `cell`). */
  cells?: Record<string, CellGenotype>;
  /** Cell label → which states are concatenated (default: every intermediate node). */
  concat?: Record<string, number[]>;
  /** Short lattice: the scale (0 = 1/4, 1 = 1/8, ...) of each searched layer, first to last. */
  path?: number[];
  /** Dense lattice: the scale of the output node. */
  output?: number;
  /** Dense lattice: node label (`l3s1`) → kept inputs as [layer, scale] (layer 0 is the stem). */
  inputs?: Record<string, [number, number][]>;
  /** User spaces: LayerChoice label → candidate name; InputChoice label → input indices. */
  choices?: Record<string, string | number[]>;
};

/** A genotype that failed validation; `message` names the offending field. */
export class GenotypeError extends Error {
  override name = 'GenotypeError';
}

const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (msg: string): never => {
  throw new GenotypeError(`genotype${msg}`);
};

/**
 * Checks the shape of a genotype (not its fit to a particular space) and returns it typed. A
 * DARTS-style object (`{normal, normal_concat, reduce, reduce_concat}`, as the published Python
 * genotypes) is converted first.
 *
 * @example
 * const g = validateGenotype(JSON.parse(text)); // throws GenotypeError: genotype.cells.normal[3][0]: ...
 */
export function validateGenotype(value: unknown): Genotype {
  if (!isObj(value)) return fail(': expected a JSON object');
  if (value.version === undefined && Array.isArray(value.normal)) return validateGenotype(fromDartsGenotype(value));
  if (value.version !== GENOTYPE_VERSION) fail(`.version: expected ${GENOTYPE_VERSION}, got ${JSON.stringify(value.version)}`);
  if (typeof value.space !== 'string' || !value.space) fail('.space: expected a non-empty string');
  const known = new Set(['version', 'space', 'settings', 'cells', 'concat', 'path', 'output', 'inputs', 'choices']);
  for (const k of Object.keys(value)) if (!known.has(k)) fail(`: unknown field '${k}' (known: ${[...known].join(', ')})`);
  if (value.settings !== undefined && !isObj(value.settings)) fail('.settings: expected an object');
  if (value.cells !== undefined) {
    if (!isObj(value.cells)) fail('.cells: expected an object (cell label → [[op, input], ...])');
    for (const [label, edges] of Object.entries(value.cells as object)) {
      if (!Array.isArray(edges) || edges.length === 0) fail(`.cells.${label}: expected a non-empty array of [op, input]`);
      (edges as unknown[]).forEach((e, i) => {
        const at = `.cells.${label}[${i}]`;
        if (!Array.isArray(e) || e.length !== 2) fail(`${at}: expected [op, input]`);
        const [op, input] = e as unknown[];
        if (typeof op !== 'string' || !hasOp(op)) fail(`${at}[0]: unknown operation ${JSON.stringify(op)} (registered: ${registeredOps().join(', ')})`);
        if (op === ZERO_OP) fail(`${at}[0]: '${ZERO_OP}' cannot be a kept operation`);
        if (!isInt(input)) fail(`${at}[1]: expected a non-negative integer input index, got ${JSON.stringify(input)}`);
      });
    }
  }
  if (value.concat !== undefined) {
    if (!isObj(value.concat)) fail('.concat: expected an object (cell label → state indices)');
    for (const [label, idx] of Object.entries(value.concat as object)) {
      if (!Array.isArray(idx) || idx.length === 0 || !idx.every((i) => isInt(i))) fail(`.concat.${label}: expected a non-empty array of state indices`);
    }
  }
  if (value.path !== undefined && (!Array.isArray(value.path) || value.path.length === 0 || !value.path.every((s) => isInt(s)))) {
    fail('.path: expected a non-empty array of scale indices (0 = 1/4)');
  }
  if (value.output !== undefined && !isInt(value.output)) fail('.output: expected a scale index');
  if (value.inputs !== undefined) {
    if (!isObj(value.inputs)) fail('.inputs: expected an object (node label → [[layer, scale], ...])');
    for (const [label, ins] of Object.entries(value.inputs as object)) {
      if (!Array.isArray(ins) || ins.length === 0 || !ins.every((p) => Array.isArray(p) && p.length === 2 && isInt(p[0]) && isInt(p[1]))) {
        fail(`.inputs.${label}: expected a non-empty array of [layer, scale]`);
      }
    }
  }
  if (value.choices !== undefined) {
    if (!isObj(value.choices)) fail('.choices: expected an object (label → candidate name or input indices)');
    for (const [label, c] of Object.entries(value.choices as object)) {
      const ok = typeof c === 'string' || (Array.isArray(c) && c.length > 0 && c.every((i) => isInt(i)));
      if (!ok) fail(`.choices.${label}: expected a candidate name or an array of input indices`);
    }
  }
  return value as Genotype;
}

/**
 * Converts a DARTS-style genotype (`normal`, `normal_concat`, `reduce`, `reduce_concat`, with
 * `[op, input]` pairs) to schema version 1.
 *
 * @example
 * fromDartsGenotype({ normal: [['sep_conv_3x3', 0], ...], normal_concat: [2, 3, 4, 5], reduce: [...], reduce_concat: [2, 3, 4, 5] });
 */
export function fromDartsGenotype(value: Record<string, unknown>): Genotype {
  const g: Genotype = { version: 1, space: 'darts', cells: {} };
  const concat: Record<string, number[]> = {};
  for (const cell of ['normal', 'reduce']) {
    if (!Array.isArray(value[cell])) fail(`.${cell}: a DARTS genotype needs '${cell}' as [[op, input], ...]`);
    g.cells![cell] = value[cell] as CellGenotype;
    const c = value[`${cell}_concat`];
    if (c !== undefined) concat[cell] = c as number[];
  }
  if (Object.keys(concat).length) g.concat = concat;
  return g;
}

/** Parses genotype JSON text and validates it. */
export function parseGenotype(text: string): Genotype {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new GenotypeError(`genotype: not valid JSON (${(e as Error).message})`);
  }
  return validateGenotype(v);
}

/** JSON text of a genotype: two-space indentation, innermost arrays on one line. */
export function genotypeToJSON(g: Genotype): string {
  validateGenotype(g);
  return JSON.stringify(g, null, 2).replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_m, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`) + '\n';
}

/** Writes a validated genotype to `file`. */
export function saveGenotype(file: string, g: Genotype): void {
  writeFileAtomic(file, genotypeToJSON(g));
}

/** Reads and validates the genotype in `file`. */
export function loadGenotype(file: string): Genotype {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new GenotypeError(`genotype: cannot read '${file}': ${(e as Error).message}`);
  }
  try {
    return parseGenotype(text);
  } catch (e) {
    if (e instanceof GenotypeError) e.message = `${file}: ${e.message}`;
    throw e;
  }
}

/** Number of predecessors of intermediate node `node` in a cell with `numInputs` inputs. */
export const predecessors = (numInputs: number, node: number): number => numInputs + node;

/** Index of the edge (node, input) in a cell's edge list (DARTS order: node by node, input by input). */
export function edgeIndex(numInputs: number, node: number, input: number): number {
  let offset = 0;
  for (let i = 0; i < node; i++) offset += predecessors(numInputs, i);
  return offset + input;
}

/** Kept inputs per node under the DARTS rule: 2, or fewer when a node has fewer predecessors. */
export const keptPerNode = (numInputs: number, node: number): number => Math.min(2, predecessors(numInputs, node));

/**
 * The DARTS decoding rule. `weights[e][k]` is the weight of operation `ops[k]` on edge e (edges in
 * {@link edgeIndex} order). For each node, keep the {@link keptPerNode} inputs whose strongest
 * non-zero operation is strongest (ties: lower input), and on each the strongest non-zero
 * operation (ties: lower column). With `edgeWeights` (edge normalisation, PC-DARTS: one weight per
 * edge in edgeIndex order) the inputs are ranked by edge weight times that operation weight.
 *
 * @example
 * decodeCell(probs, [...DARTS_PRIMITIVES], 2, 4); // [['sep_conv_3x3', 0], ['skip_connect', 1], ...]
 */
export function decodeCell(weights: number[][], ops: string[], numInputs: number, nodes: number, edgeWeights?: number[]): CellGenotype {
  const gene: CellGenotype = [];
  const usable = ops.map((_, k) => k).filter((k) => ops[k] !== ZERO_OP);
  if (usable.length === 0) throw new Error(`decodeCell: no operation other than '${ZERO_OP}'`);
  for (let i = 0; i < nodes; i++) {
    const best = Array.from({ length: predecessors(numInputs, i) }, (_, j) => {
      const w = weights[edgeIndex(numInputs, i, j)];
      let k = usable[0];
      for (const c of usable) if (w[c] > w[k]) k = c;
      return { j, k, w: w[k] * (edgeWeights ? edgeWeights[edgeIndex(numInputs, i, j)] : 1) };
    });
    const kept = [...best].sort((a, b) => b.w - a.w || a.j - b.j).slice(0, keptPerNode(numInputs, i));
    for (const e of kept) gene.push([ops[e.k], e.j]);
  }
  return gene;
}

/**
 * Checks that `cell` fits a cell with `numInputs` inputs and `nodes` nodes under the 2-per-node
 * rule, and groups its entries by node.
 */
export function cellByNode(label: string, cell: CellGenotype, numInputs: number, nodes: number): CellGenotype[] {
  const expected = Array.from({ length: nodes }, (_, i) => keptPerNode(numInputs, i)).reduce((a, b) => a + b, 0);
  if (cell.length !== expected) {
    throw new GenotypeError(
      `genotype.cells.${label}: ${cell.length} entries, expected ${expected} for ${nodes} nodes (2 per node, fewer where a node has fewer predecessors)`,
    );
  }
  const out: CellGenotype[] = [];
  let at = 0;
  for (let i = 0; i < nodes; i++) {
    const n = keptPerNode(numInputs, i);
    const group = cell.slice(at, at + n);
    group.forEach(([, j], t) => {
      if (j >= predecessors(numInputs, i)) {
        throw new GenotypeError(`genotype.cells.${label}[${at + t}]: node ${i} cannot take input ${j} (inputs 0..${predecessors(numInputs, i) - 1})`);
      }
    });
    out.push(group);
    at += n;
  }
  return out;
}
