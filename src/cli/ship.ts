/**
 * Commands that read a finished (or stopped) run directory: `dnas eval`, `dnas export`,
 * `dnas predict` and `dnas report`.
 */
import * as path from 'node:path';
import { exportRun, loadRunModel, predictImages } from '../export';
import { writeReport } from '../report';
import { buildTaskData } from '../search/data';
import { evaluate } from '../search/evaluate';
import * as torch from '../torch';
import { FlagSpec, parseCommand, UsageError } from './parse';

const F = torch.nn.functional;

type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/**
 * Parses `dnas <command>` flags and its RUN_DIR (and, with `more`, further arguments); prints
 * `usage` and returns null for -h/--help. No RUN_DIR is a usage error.
 */
function parse(command: string, argv: string[], options: Record<string, FlagSpec>, usage: string, more = 0): Parsed | null {
  const r = parseCommand(command, argv, options, { positionals: 1 + more });
  if (r.help) {
    console.log(usage);
    return null;
  }
  if (r.positionals.length === 0) throw new UsageError(`dnas ${command} needs a run directory: ${usage.split('\n')[0].replace(/^Usage: /, '')}`);
  return r;
}

const hw = (s: string | undefined): [number, number] | undefined => {
  if (!s) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`expected HEIGHTxWIDTH such as 128x256, got '${s}'`);
  return [Number(m[1]), Number(m[2])];
};

/** What every command on a run says about runs searched in a space module. */
const SPACE_NOTE = `A run searched in a space module needs it named again: --space FILE (dnas never loads code
because a run folder names it; docs/spaces.md). --json prints one JSON object instead of text
(scores as fractions, as in metrics.jsonl).`;

/** --device, checked before anything is loaded (a missing CUDA is a one-line error); undefined: the default (cpu). */
function deviceOption(v: Record<string, string | boolean | undefined>): string | undefined {
  if (typeof v.device !== 'string') return undefined;
  torch.checkDevice(v.device);
  return v.device;
}

/** The --space flag as load options; a changed module is a warning on stderr. */
function spaceOption(v: Record<string, string | boolean | undefined>): { space?: string; warn: (m: string) => void } {
  return { space: typeof v.space === 'string' ? v.space : undefined, warn: (m) => console.error(`dnas: warning: ${m}`) };
}

export const EXPORT_HELP = `Usage: dnas export RUN_DIR [--onnx FILE] [--pt FILE] [--genotype FILE] [--python FILE] [--checkpoint last|best|FILE] [--size HxW] [--softmax] [--space FILE] [--json]

Exports the network the run ended with (the derived network after a single-stage freeze, the
retrained one for two-stage, the derived network of the decoded genotype otherwise). With no
target, writes RUN_DIR/export/model.onnx, model.pt, genotype.json and model.py. ONNX input:
float32 [N, C, H, W], normalised as the metadata says; dynamic H and W unless --size is given.
--python writes a standalone PyTorch model.py: build() makes the network, which loads the .pt
(model = build(); model.load_state_dict(torch.load('model.pt')); model.eval()).
${SPACE_NOTE}`;

export async function exportCmd(argv: string[]): Promise<number> {
  const r = parse(
    'export',
    argv,
    {
      onnx: { type: 'string' },
      pt: { type: 'string' },
      genotype: { type: 'string' },
      python: { type: 'string' },
      checkpoint: { type: 'string' },
      size: { type: 'string' },
      softmax: { type: 'boolean' },
      space: { type: 'string' },
      json: { type: 'boolean' },
    },
    EXPORT_HELP,
  );
  if (!r) return 0;
  const v = r.values as Record<string, string | boolean | undefined>;
  const size = hw(v.size as string | undefined);
  const res = exportRun(r.positionals[0], {
    onnx: v.onnx as string | undefined,
    pt: v.pt as string | undefined,
    genotype: v.genotype as string | undefined,
    python: v.python as string | undefined,
    checkpoint: v.checkpoint as string | undefined,
    height: size?.[0],
    width: size?.[1],
    softmax: !!v.softmax,
    ...spaceOption(v),
  });
  if (v.json) {
    const { meta: _meta, ...rest } = res;
    process.stdout.write(JSON.stringify({ event: 'export', run: path.resolve(r.positionals[0]), ...rest }) + '\n');
    return 0;
  }
  console.log(`exported the ${res.phase} network of epoch ${res.epoch} (${res.parameters} parameters, ${res.numClasses} classes)`);
  for (const k of ['onnx', 'pt', 'genotype', 'python'] as const) if (res[k]) console.log(`  ${k.padEnd(8)} ${res[k]}`);
  if (res.onnxSkipped) console.log(`  onnx     not written: ${res.onnxSkipped}`);
  if (res.pythonSkipped) console.log(`  python   not written: ${res.pythonSkipped}`);
  return 0;
}

export const PREDICT_HELP = `Usage: dnas predict RUN_DIR IMAGE... [--out DIR] [--checkpoint last|best|FILE] [--size HxW] [--device D] [--space FILE] [--json]

Segments each image with the run's final network and writes, per image, a colour-coded mask
(palette PNG whose values are the class indices; Cityscapes colours for Cityscapes runs) and an
overlay, both at the image's size, into DIR (default RUN_DIR/predictions). The network runs at
--size, else at the run's own size setting when it was trained on resized samples, else at the
image's size, on --device (cpu, cuda or cuda:N; default cpu).
${SPACE_NOTE}`;

export async function predict(argv: string[]): Promise<number> {
  const r = parse(
    'predict',
    argv,
    {
      out: { type: 'string' },
      checkpoint: { type: 'string' },
      size: { type: 'string' },
      device: { type: 'string' },
      space: { type: 'string' },
      json: { type: 'boolean' },
    },
    PREDICT_HELP,
    Infinity,
  );
  if (!r) return 0;
  const [run, ...images] = r.positionals;
  const device = deviceOption(r.values);
  if (images.length === 0) throw new UsageError('dnas predict: give at least one image after the run directory; see dnas predict --help');
  const out = (r.values.out as string | undefined) ?? path.join(run, 'predictions');
  const res = predictImages(run, images, out, {
    checkpoint: r.values.checkpoint as string | undefined,
    size: hw(r.values.size as string | undefined),
    ...spaceOption(r.values),
    ...(device ? { device } : {}),
  });
  if (r.values.json) process.stdout.write(JSON.stringify({ event: 'predict', run: path.resolve(run), images: res }) + '\n');
  else for (const p of res) console.log(`${p.input} -> ${p.mask}, ${p.overlay}`);
  return 0;
}

export const EVAL_HELP = `Usage: dnas eval RUN_DIR [--checkpoint last|best|FILE] [--threads N] [--device D] [--space FILE] [--json]

Evaluates the run's final network on the validation split of its data set and prints the score
(mIoU and per-class IoU for segmentation, top-1 accuracy for classification), on --device (cpu,
cuda or cuda:N; default cpu).
${SPACE_NOTE}`;

export async function evalCmd(argv: string[]): Promise<number> {
  const r = parse(
    'eval',
    argv,
    { checkpoint: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' }, space: { type: 'string' }, json: { type: 'boolean' } },
    EVAL_HELP,
  );
  if (!r) return 0;
  const device = deviceOption(r.values);
  const threads = Number(r.values.threads ?? 1);
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`dnas eval: --threads takes a positive integer, got '${r.values.threads}'`);
  torch.setNumThreads(threads);
  const m = loadRunModel(r.positionals[0], { checkpoint: r.values.checkpoint as string | undefined, ...spaceOption(r.values), ...(device ? { device } : {}) });
  let data: Awaited<ReturnType<typeof buildTaskData>>;
  const cfgFile = path.join(m.dir, 'config.json');
  try {
    data = await buildTaskData(device ? { ...m.config, device } : m.config);
  } catch (e) {
    m.dispose();
    throw new Error(`the data set of ${cfgFile} cannot be opened: ${(e as Error).message}`);
  }
  try {
    // The data set config.json names must be the one the network was trained for.
    const want = `${m.task}, ${m.numClasses} classes, ${m.inChannels} input channel${m.inChannels === 1 ? '' : 's'}`;
    const got = `${data.kind}, ${data.numClasses} classes, ${data.inChannels} input channel${data.inChannels === 1 ? '' : 's'}`;
    if (want !== got) {
      throw new Error(
        `${cfgFile} names the data set '${m.config.dataset}' (${got}), but the network in ${m.checkpoint} was trained for ${want}: ` +
          'the config was edited or the checkpoint belongs to another run',
      );
    }
    const res = await evaluate(m.network, (x) => m.network.forward(x) as torch.Tensor, data.valBatches(m.config.batchSize), {
      numClasses: data.numClasses,
      ignoreIndex: data.ignoreIndex,
      classNames: data.classNames,
      loss: (l, y) => F.crossEntropy(l, y, { ignoreIndex: data.ignoreIndex }),
    });
    if (r.values.json) {
      const score =
        data.kind === 'segmentation' ? { miou: res.miou, pixelAccuracy: res.pixelAccuracy, perClassIoU: res.perClassIoU } : { accuracy: res.pixelAccuracy };
      const out = { event: 'eval', run: m.dir, phase: m.phase, epoch: m.epoch, checkpoint: m.checkpoint, task: data.kind, ...score, loss: res.loss };
      process.stdout.write(JSON.stringify(out) + '\n');
      return 0;
    }
    console.log(`${m.phase} network of epoch ${m.epoch} (${m.checkpoint})`);
    if (data.kind === 'segmentation') {
      console.log(`mIoU ${(100 * res.miou).toFixed(2)}%, pixel accuracy ${(100 * res.pixelAccuracy).toFixed(2)}%, loss ${res.loss.toFixed(4)}`);
      for (const [k, v] of Object.entries(res.perClassIoU)) console.log(`  ${k.padEnd(16)} ${v === null ? '-' : (100 * v).toFixed(2)}`);
    } else {
      console.log(`top-1 accuracy ${(100 * res.pixelAccuracy).toFixed(2)}%, loss ${res.loss.toFixed(4)}`);
    }
  } finally {
    await data.close();
    m.dispose();
  }
  return 0;
}

export const REPORT_HELP = `Usage: dnas report RUN_DIR [--out FILE] [--no-cost] [--no-latency] [--input HxW] [--checkpoint last|best|FILE] [--space FILE] [--json]
       dnas report RUN_A RUN_B ... [--out FILE] [--json]

Writes a self-contained HTML page (default RUN_DIR/report.html) with the loss and score curves,
the discretization gap with the freeze marked, entropy and temperature, heat maps of the
relaxation weights, the found architecture as a graph, and a cost table.
${SPACE_NOTE} Without it, such a
run's report has no cost table and numbers its choice rows.

With several run directories: one page (default comparison.html here) with a table of their
settings and results and their score, loss, gap and convergence curves overlaid.`;

export async function report(argv: string[]): Promise<number> {
  const r = parse(
    'report',
    argv,
    {
      out: { type: 'string' },
      'no-cost': { type: 'boolean' },
      'no-latency': { type: 'boolean' },
      input: { type: 'string' },
      checkpoint: { type: 'string' },
      space: { type: 'string' },
      json: { type: 'boolean' },
    },
    REPORT_HELP,
    Infinity,
  );
  if (!r) return 0;
  const v = r.values as Record<string, string | boolean | undefined>;
  if (r.positionals.length > 1) {
    const { writeComparison } = await import('../report/compare');
    const res = writeComparison(r.positionals, (v.out as string | undefined) ?? 'comparison.html');
    if (v.json) process.stdout.write(JSON.stringify({ event: 'report', runs: r.positionals.map((d) => path.resolve(d)), file: res.file }) + '\n');
    else console.log(`comparison of ${r.positionals.length} runs: ${res.file}`);
    return 0;
  }
  const res = writeReport(r.positionals[0], v.out as string | undefined, {
    cost: !v['no-cost'],
    latency: !v['no-latency'],
    inputSize: hw(v.input as string | undefined),
    checkpoint: v.checkpoint as string | undefined,
    space: v.space as string | undefined,
  });
  if (v.json) {
    const out = { event: 'report', run: path.resolve(r.positionals[0]), file: res.file, charts: res.charts, problems: res.problems };
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  }
  console.log(`report: ${res.file}`);
  for (const p of res.problems) console.log(`  note: ${p}`);
  return 0;
}
