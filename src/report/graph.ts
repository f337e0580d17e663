/**
 * The found architecture drawn as SVG, as plain strings (no DOM, no library): DARTS-style cells
 * as left-to-right DAGs with one labelled edge per kept operation, and the multi-scale lattice as
 * a layers x scales grid with the chosen path (short connectivity) or the kept inputs (dense).
 *
 * Text widths are estimated for a monospace font (0.6 em per character), which is what the edge
 * labels use, so label boxes fit without measuring in a browser.
 */
import { esc } from './html';

/** One kept edge of a cell: operation, source state, target intermediate node. */
export interface CellEdge {
  op: string;
  /** State index: cell inputs first (0 .. numInputs-1), then intermediate node i is numInputs + i. */
  from: number;
  /** Intermediate node index (0-based). */
  to: number;
}

/** A cell to draw. */
export interface CellDrawing {
  /** Shown above the drawing ('normal cell'). */
  title: string;
  /** Names of the cell inputs ('c_{k-2}', 'c_{k-1}'), one per input. */
  inputs: string[];
  /** Number of intermediate nodes. */
  nodes: number;
  edges: CellEdge[];
  /** States concatenated into the output (default: every intermediate node). */
  concat?: number[];
  /** Name of the output node. */
  output?: string;
  /** data-graph attribute of the <svg>. */
  id: string;
}

const f = (v: number): string => (Math.round(v * 10) / 10).toString();

/** A colour per candidate operation (the same in every drawing of a report). */
export function opColor(op: string): string {
  const known: Record<string, string> = {
    none: '#9e9e9e',
    skip_connect: '#616161',
    max_pool_3x3: '#2e7d32',
    avg_pool_3x3: '#66bb6a',
    sep_conv_3x3: '#1565c0',
    sep_conv_5x5: '#42a5f5',
    sep_conv_7x7: '#0d47a1',
    dil_conv_3x3: '#c62828',
    dil_conv_5x5: '#ef6c00',
    conv_7x1_1x7: '#6a1b9a',
  };
  if (known[op]) return known[op];
  const palette = ['#00838f', '#ad1457', '#4e342e', '#558b2f', '#283593', '#f9a825'];
  let h = 0;
  for (const c of op) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return palette[h % palette.length];
}

/** `#rrggbb` mixed with white (t = 0: the colour, 1: white). */
function tint(hex: string, t: number): string {
  const n = parseInt(hex.slice(1), 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => Math.round(c + (255 - c) * t));
  return `#${ch.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
const overlaps = (a: Box, b: Box, pad = 2): boolean => a.x0 < b.x1 + pad && b.x0 < a.x1 + pad && a.y0 < b.y1 + pad && b.y0 < a.y1 + pad;

type Pt = [number, number];
function bezier(p0: Pt, p1: Pt, p2: Pt, p3: Pt, t: number): Pt {
  const u = 1 - t;
  const a = u * u * u,
    b = 3 * u * u * t,
    c = 3 * u * t * t,
    d = t * t * t;
  return [a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]];
}
/** Moves `p` by `r` towards `toward`. */
function shorten(p: Pt, toward: Pt, r: number): Pt {
  const dx = toward[0] - p[0],
    dy = toward[1] - p[1];
  const len = Math.hypot(dx, dy) || 1;
  return [p[0] + (dx / len) * r, p[1] + (dy / len) * r];
}

const LABEL_FONT = 11;
const charW = LABEL_FONT * 0.6;

function arrowDefs(id: string, colors: string[]): string {
  return `<defs>${[...new Set(colors)].map((c) => `<marker id="${id}-arrow-${c.slice(1)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`).join('')}</defs>`;
}

/**
 * Draws one cell as a DAG, left to right: the inputs, then the intermediate nodes in columns by
 * depth (a node one column right of its deepest input, nodes of a column stacked), then the
 * concatenated output; each kept operation is an arrow labelled with its name.
 */
export function cellSvg(cell: CellDrawing): string {
  const nIn = cell.inputs.length;
  const n = cell.nodes;
  const dx = 175,
    top = 50,
    gap = 90,
    R = 17;
  // Column of each state: inputs 0, node i one past its deepest input.
  const rank: number[] = Array.from({ length: nIn }, () => 0);
  for (let i = 0; i < n; i++) {
    const from = cell.edges.filter((e) => e.to === i).map((e) => e.from);
    rank.push(1 + Math.max(0, ...from.map((f) => rank[f] ?? 0)));
  }
  const cols = Math.max(0, ...rank);
  const members: number[][] = Array.from({ length: cols + 1 }, () => []);
  rank.forEach((r, state) => members[r].push(state));
  const inGap = nIn > 1 ? Math.max(gap * 1.5, ((Math.max(...members.map((m) => m.length)) - 1) * gap) / (nIn - 1)) : 0;
  // Positions are first laid out around mid = 0, then shifted to fit the arcs (below).
  let mid = 0;
  const inW = Math.max(56, ...cell.inputs.map((t) => t.length * 7 + 18));
  const x0 = 16 + inW / 2;
  const colX = (r: number): number => (r === 0 ? x0 : x0 + inW / 2 + dx * (nIn > 1 ? 1.05 : 0.8) + (r - 1) * dx);
  const xs = (state: number): number => colX(rank[state]);
  const ys = (state: number): number => {
    const m = members[rank[state]];
    const j = m.indexOf(state);
    const g = rank[state] === 0 ? inGap : gap;
    return mid + (j - (m.length - 1) / 2) * g;
  };
  const outName = cell.output ?? 'output';
  const outW = Math.max(64, outName.length * 7 + 18);
  const xOut = colX(cols) + dx * 0.75 + outW / 2;
  const subtitle = `${n} node${n === 1 ? '' : 's'}, ${cell.edges.length} operations; dashed: concatenated into the output`;
  const width = Math.ceil(Math.max(xOut + outW / 2 + 16, 24 + cell.title.length * 8.6, 24 + subtitle.length * 6));
  /** Vertical bow that keeps a long edge clear of the nodes of the columns it crosses. */
  const bowFor = (from: number, to: number): number => {
    const a = rank[from],
      b = rank[to];
    if (b - a < 2) return 0;
    const [x1, y1, x2, y2] = [xs(from), ys(from), xs(to), ys(to)];
    // Away from the middle; edges along the middle line alternate above and below.
    const avg = (y1 + y2) / 2;
    const dir = Math.abs(avg - mid) > 1 ? Math.sign(avg - mid) : (from + to) % 2 === 0 ? -1 : 1;
    let need = 0;
    for (let r = a + 1; r < b; r++) {
      for (const st of members[r]) {
        const lineY = y1 + ((colX(r) - x1) / (x2 - x1)) * (y2 - y1);
        if (Math.abs(lineY - ys(st)) < 36) need = Math.max(need, (36 - (lineY - ys(st)) * dir) / 0.75);
      }
    }
    // Longer edges arc wider, so that nested arcs do not run on top of each other.
    return need > 0 ? dir * (need + 18 * (b - a - 2)) : 0;
  };
  /** The curve of an edge: start, control points, end (horizontal-ish tangents, bowed when long). */
  const curve = (e: CellEdge): [Pt, Pt, Pt, Pt] => {
    const src: Pt = [xs(e.from), ys(e.from)];
    const dst: Pt = [xs(nIn + e.to), ys(nIn + e.to)];
    const bow = bowFor(e.from, nIn + e.to);
    // The curve leaves and enters a little towards the other end, so that edges meeting at one node
    // arrive at different points of its circle.
    const c1: Pt = [src[0] + (dst[0] - src[0]) * 0.45, src[1] + bow + (dst[1] - src[1]) * 0.2];
    const c2: Pt = [dst[0] - (dst[0] - src[0]) * 0.45, dst[1] + bow + (src[1] - dst[1]) * 0.3];
    const start = e.from < nIn ? ([src[0] + inW / 2, src[1]] as Pt) : shorten(src, c1, R);
    return [start, c1, c2, shorten(dst, c2, R + 1)];
  };
  // Vertical extent of nodes, curves and their labels; then shift everything below the title.
  let y0 = Infinity,
    y1 = -Infinity;
  for (let st = 0; st < nIn + n; st++) {
    y0 = Math.min(y0, ys(st) - R);
    y1 = Math.max(y1, ys(st) + R);
  }
  for (const e of cell.edges) {
    const c = curve(e);
    for (let t = 0; t <= 1; t += 0.05) {
      const y = bezier(...c, t)[1];
      y0 = Math.min(y0, y - 10);
      y1 = Math.max(y1, y + 10);
    }
  }
  mid = top + 6 - y0;
  const height = Math.ceil(top + 6 + (y1 - y0) + 10);
  const obstacles: Box[] = [];
  const nodeBox = (x: number, y: number, hw: number, hh: number): Box => ({ x0: x - hw, y0: y - hh, x1: x + hw, y1: y + hh });
  for (let st = 0; st < nIn; st++) obstacles.push(nodeBox(xs(st), ys(st), inW / 2, 14));
  for (let i = 0; i < n; i++) obstacles.push(nodeBox(xs(nIn + i), ys(nIn + i), R, R));
  obstacles.push(nodeBox(xOut, mid, outW / 2, 14));

  const edgeParts: string[] = [];
  const labelParts: string[] = [];
  const colors: string[] = [];
  const placed: Box[] = [];
  const id = esc(cell.id);
  // Short edges have the least room for a label: they are placed first.
  const order = cell.edges.map((e, k) => ({ e, k, span: rank[nIn + e.to] - rank[e.from] })).sort((a, b) => a.span - b.span || a.k - b.k);
  for (const { e } of order) {
    const [start, c1, c2, end] = curve(e);
    const color = opColor(e.op);
    colors.push(color);
    edgeParts.push(
      `<path d="M${f(start[0])},${f(start[1])} C${f(c1[0])},${f(c1[1])} ${f(c2[0])},${f(c2[1])} ${f(end[0])},${f(end[1])}" fill="none" stroke="${color}" stroke-width="2" marker-end="url(#${id}-arrow-${color.slice(1)})" data-op="${esc(e.op)}"/>`,
    );
    // Label: the point along the curve (nearest the middle first) whose box hits nothing drawn.
    const w = e.op.length * charW + 10,
      h = LABEL_FONT + 6;
    let best: Pt | null = null;
    for (const t of [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8]) {
      const p = bezier(start, c1, c2, end, t);
      const b = nodeBox(p[0], p[1], w / 2, h / 2);
      if (!placed.some((q) => overlaps(b, q)) && !obstacles.some((q) => overlaps(b, q))) {
        best = p;
        break;
      }
    }
    best ??= bezier(start, c1, c2, end, 0.5);
    placed.push(nodeBox(best[0], best[1], w / 2, h / 2));
    labelParts.push(
      `<g class="edge-label"><rect x="${f(best[0] - w / 2)}" y="${f(best[1] - h / 2)}" width="${f(w)}" height="${h}" rx="4" fill="${tint(color, 0.88)}" stroke="${color}" stroke-width="0.8"/>` +
        `<text x="${f(best[0])}" y="${f(best[1] + LABEL_FONT * 0.36)}" text-anchor="middle" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="${LABEL_FONT}" fill="#212121">${esc(e.op)}</text></g>`,
    );
  }
  // Output: every concatenated node, dashed.
  const concat = cell.concat ?? Array.from({ length: n }, (_, i) => nIn + i);
  const outParts = concat.map((s) => {
    const src: Pt = [xs(s), ys(s)];
    const dst: Pt = [xOut - outW / 2, mid];
    const c1: Pt = [src[0] + (dst[0] - src[0]) * 0.5, src[1]];
    const c2: Pt = [dst[0] - (dst[0] - src[0]) * 0.4, dst[1]];
    const start = s < nIn ? ([src[0] + inW / 2, src[1]] as Pt) : shorten(src, c1, R);
    return `<path d="M${f(start[0])},${f(start[1])} C${f(c1[0])},${f(c1[1])} ${f(c2[0])},${f(c2[1])} ${f(dst[0] - 1)},${f(dst[1])}" fill="none" stroke="#9e9e9e" stroke-width="1.3" stroke-dasharray="4 3" marker-end="url(#${id}-arrow-9e9e9e)"/>`;
  });
  colors.push('#9e9e9e');
  const nodes: string[] = [];
  cell.inputs.forEach((name, s) => {
    nodes.push(
      `<g class="node input"><rect x="${f(xs(s) - inW / 2)}" y="${f(ys(s) - 14)}" width="${f(inW)}" height="28" rx="6" fill="#e8f5e9" stroke="#388e3c"/>` +
        `<text x="${f(xs(s))}" y="${f(ys(s) + 4.5)}" text-anchor="middle" font-size="13" fill="#1b5e20">${esc(name)}</text></g>`,
    );
  });
  for (let i = 0; i < n; i++) {
    const x = xs(nIn + i),
      y = ys(nIn + i);
    nodes.push(
      `<g class="node inner"><circle cx="${f(x)}" cy="${f(y)}" r="${R}" fill="#e3f2fd" stroke="#1565c0" stroke-width="1.5"/>` +
        `<text x="${f(x)}" y="${f(y + 4.5)}" text-anchor="middle" font-size="13" font-weight="600" fill="#0d47a1">${i}</text></g>`,
    );
  }
  nodes.push(
    `<g class="node output"><rect x="${f(xOut - outW / 2)}" y="${f(mid - 14)}" width="${f(outW)}" height="28" rx="6" fill="#fff8e1" stroke="#f9a825"/>` +
      `<text x="${f(xOut)}" y="${f(mid + 4.5)}" text-anchor="middle" font-size="13" fill="#795548">${esc(outName)}</text></g>`,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="arch" data-graph="${id}" data-edges="${cell.edges.length}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(cell.title)}">` +
    arrowDefs(id, colors) +
    `<text x="12" y="20" font-size="15" font-weight="600" fill="#212121">${esc(cell.title)}</text>` +
    `<text x="12" y="37" font-size="11" fill="#757575">${esc(subtitle)}</text>` +
    outParts.join('') +
    edgeParts.join('') +
    nodes.join('') +
    labelParts.join('') +
    '</svg>'
  );
}

/**
 * Groups a cell genotype's `[op, input]` pairs by node under the 2-per-node rule (1 where a node
 * has a single predecessor), as {@link CellEdge}s.
 */
export function cellEdges(gene: [string, number][], numInputs: number): { nodes: number; edges: CellEdge[] } {
  const edges: CellEdge[] = [];
  let at = 0,
    node = 0;
  while (at < gene.length) {
    const k = Math.min(2, numInputs + node);
    for (const [op, from] of gene.slice(at, at + k)) edges.push({ op, from, to: node });
    at += k;
    node++;
  }
  return { nodes: node, edges };
}

/** The multi-scale lattice and its chosen structure. */
export interface LatticeDrawing {
  layers: number;
  scales: number;
  connectivity: 'short' | 'dense' | 'fusion';
  /** Short lattice: the scale of layers 1..L. */
  path?: number[];
  /** Dense lattice: node label (`l3s1`) → kept inputs [layer, scale]. */
  inputs?: Record<string, [number, number][]>;
  /** Output scale (dense; the short lattice's is the path's last). */
  output?: number;
  id: string;
}

/** Stride label of scale s (stride 4 · 2^s of the input). */
export const scaleName = (s: number): string => `1/${4 * 2 ** s}`;

/**
 * Draws the lattice: every node that exists (grey), the candidate connections (short lattice),
 * and the chosen path or kept inputs in colour, from the stem (layer 0, 1/4) to the decoder head.
 */
export function latticeSvg(d: LatticeDrawing): string {
  const L = d.layers,
    S = d.scales;
  const left = 70,
    dx = Math.max(48, Math.min(90, 900 / (L + 2))),
    top = 76,
    dy = 52;
  const X = (l: number) => left + l * dx;
  const Y = (s: number) => top + s * dy;
  const exists = (l: number, s: number) => (l === 0 ? s === 0 : l >= 1 && l <= L && s >= 0 && s <= Math.min(l, S - 1));
  const headX = X(L) + dx * 1.1;
  const what0 = d.path ? `path: ${d.path.map(scaleName).join(' → ')}` : '';
  const width = Math.ceil(Math.max(headX + 70, 24 + what0.length * 6.2, 360));
  const height = top + (S - 1) * dy + 44;
  const id = esc(d.id);
  const parts: string[] = [];
  // Axes: scale names at the left, layer numbers at the top.
  for (let s = 0; s < S; s++) parts.push(`<text x="${left - 34}" y="${f(Y(s) + 4)}" text-anchor="end" font-size="12" fill="#616161">${scaleName(s)}</text>`);
  for (let l = 0; l <= L; l++)
    parts.push(`<text x="${f(X(l))}" y="${top - 22}" text-anchor="middle" font-size="11" fill="#757575">${l === 0 ? 'stem' : l}</text>`);
  parts.push(`<text x="${f(headX)}" y="${top - 22}" text-anchor="middle" font-size="11" fill="#757575">head</text>`);
  // Candidate connections of the short lattice.
  if (d.connectivity === 'short') {
    for (let l = 1; l <= L; l++) {
      for (let s = 0; s < S; s++) {
        if (!exists(l, s)) continue;
        for (const t of [s - 1, s, s + 1])
          if (exists(l - 1, t)) parts.push(`<line x1="${f(X(l - 1))}" y1="${f(Y(t))}" x2="${f(X(l))}" y2="${f(Y(s))}" stroke="#e0e0e0" stroke-width="1.2"/>`);
      }
    }
  }
  // Chosen connections.
  const kept: [number, number, number, number][] = [];
  let out = d.output ?? 0;
  const used = new Set<string>(['0,0']);
  if (d.path) {
    let prev = 0;
    d.path.forEach((s, i) => {
      kept.push([i, prev, i + 1, s]);
      used.add(`${i + 1},${s}`);
      prev = s;
    });
    out = d.path[d.path.length - 1];
  } else if (d.inputs) {
    for (const [label, ins] of Object.entries(d.inputs)) {
      const m = /^l(\d+)s(\d+)$/.exec(label);
      if (!m) continue;
      const l = +m[1],
        s = +m[2];
      used.add(`${l},${s}`);
      for (const [a, b] of ins) {
        kept.push([a, b, l, s]);
        used.add(`${a},${b}`);
      }
    }
  }
  const C = '#1565c0';
  for (const [a, b, l, s] of kept) {
    if (l - a === 1) {
      parts.push(
        `<line x1="${f(X(a))}" y1="${f(Y(b))}" x2="${f(X(l))}" y2="${f(Y(s))}" stroke="${C}" stroke-width="3.2" stroke-linecap="round" data-kept="l${a}s${b}-l${l}s${s}"/>`,
      );
    } else {
      // Dense inputs skipping layers: an arc above the row.
      const mx = (X(a) + X(l)) / 2,
        my = Math.min(Y(b), Y(s)) - 14 - 6 * (l - a);
      parts.push(
        `<path d="M${f(X(a))},${f(Y(b))} Q${f(mx)},${f(my)} ${f(X(l))},${f(Y(s))}" fill="none" stroke="${C}" stroke-width="2.2" stroke-opacity="0.8" data-kept="l${a}s${b}-l${l}s${s}"/>`,
      );
    }
  }
  // Nodes.
  for (let l = 1; l <= L; l++) {
    for (let s = 0; s < S; s++) {
      if (!exists(l, s)) continue;
      const on = used.has(`${l},${s}`);
      parts.push(
        on
          ? `<circle cx="${f(X(l))}" cy="${f(Y(s))}" r="8" fill="${C}" stroke="#fff" stroke-width="1.5" data-node="l${l}s${s}"><title>layer ${l}, scale ${scaleName(s)}</title></circle>`
          : `<circle cx="${f(X(l))}" cy="${f(Y(s))}" r="5" fill="#fff" stroke="#bdbdbd" stroke-width="1.3"/>`,
      );
    }
  }
  parts.push(
    `<rect x="${f(X(0) - 22)}" y="${f(Y(0) - 12)}" width="44" height="24" rx="5" fill="#e8f5e9" stroke="#388e3c"/><text x="${f(X(0))}" y="${f(Y(0) + 4)}" text-anchor="middle" font-size="11" fill="#1b5e20">stem</text>`,
  );
  // Decoder head at the output scale.
  parts.push(
    `<line x1="${f(X(L) + 8)}" y1="${f(Y(out))}" x2="${f(headX - 26)}" y2="${f(Y(out))}" stroke="${C}" stroke-width="2.4" marker-end="url(#${id}-arrow-${C.slice(1)})"/>`,
  );
  parts.push(
    `<rect x="${f(headX - 24)}" y="${f(Y(out) - 12)}" width="48" height="24" rx="5" fill="#fff8e1" stroke="#f9a825"/><text x="${f(headX)}" y="${f(Y(out) + 4)}" text-anchor="middle" font-size="11" fill="#795548">ASPP</text>`,
  );
  const what = d.path ? `path: ${d.path.map(scaleName).join(' → ')}` : `output at ${scaleName(out)}, ${kept.length} kept inputs`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="arch" data-graph="${id}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="lattice ${esc(what)}">` +
    arrowDefs(id, [C]) +
    `<text x="12" y="20" font-size="15" font-weight="600" fill="#212121">network level (${L} layers × ${S} scales, ${d.connectivity})</text>` +
    `<text x="12" y="37" font-size="11" fill="#757575">${esc(what)}</text>` +
    parts.join('') +
    '</svg>'
  );
}
