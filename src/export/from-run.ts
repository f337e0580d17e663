/**
 * Rebuilding the network a run ended with, from its run directory alone: config.json (space
 * settings, data set), the genotype (the checkpoint's, else genotype.json) and the weights of
 * checkpoints/last.pt (or best.pt). Then exporting it: ONNX, a PyTorch-loadable state dict and
 * the genotype JSON. `dnas export` and `dnas predict` call these.
 *
 * Which network a checkpoint holds depends on its phase, exactly as the trainer's resume():
 *   frozen            single-stage: the derived network with inherited weights  → derive, load
 *   retrain           two-stage: a fresh network of the genotype                → build, load
 *   warmup / search   the supernet (the run never froze: darts, darts2, gdas)   → load, derive
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CITYSCAPES_CLASSES,
  CITYSCAPES_PALETTE,
  Dataset,
  FASHION_CLASSES,
  FASHION_SCENE_CLASSES,
  FASHION_SCENE_PALETTE,
  FASHION_SCENE_STATS,
  FASHION_MNIST_STATS,
  getDataset,
  IMAGENET_STATS,
  RGB,
  VOC_CLASSES,
  vocColormap,
} from '../data';
import { buildSearchable } from '../search/adapter';
import { readRunCheckpoint } from '../search/checkpoint';
import { runTask, SearchConfig } from '../search/config';
import { savedConfig, savedNetwork, SavedRunOptions } from '../search/saved';
import { ensureDirNoFollow, RunDir, writeFileAtomic } from '../search/rundir';
import { Genotype, TaskData } from '../search/types';
import { checkDevice, dispose, nn, serialize, Tensor } from '../torch';
import { exportOnnx } from './onnx';
import { OnnxExportError } from './registry';
import { PythonExportOptions, savePython } from './python';
import { PythonExportError } from './python-registry';

/** What a run's data set says about its images and classes (what export and prediction need). */
export interface DatasetMeta {
  /** Registry name ('cityscapes', 'fashion-scenes', ...). */
  name: string;
  task: 'segmentation' | 'classification';
  numClasses: number;
  /** Image channels the network takes. */
  inChannels: number;
  classNames: string[];
  /** One colour per class (the data set's; generated where it has none). */
  palette: RGB[];
  /** Input normalisation: the network sees (pixel / 255 - mean[c]) / std[c]. */
  mean: number[];
  std: number[];
  ignoreIndex: number;
  /** 'dataset': read from the data set; 'built-in': its known constants (the data was not available here). */
  source: 'dataset' | 'built-in';
}

/** The final network of a run, ready for inference (eval mode). */
export interface RunModel {
  dir: string;
  /** config.json over the current defaults. */
  config: SearchConfig;
  genotype: Genotype;
  /** Phase and finished epochs of the checkpoint. */
  phase: string;
  epoch: number;
  checkpoint: string;
  network: nn.Module;
  task: 'segmentation' | 'classification';
  numClasses: number;
  inChannels: number;
  /** Data set metadata, or null when neither the data set nor built-in constants could give it (see metaProblem). */
  meta: DatasetMeta | null;
  metaProblem?: string;
  /** Releases the network's tensors. */
  dispose(): void;
}

/** Options of {@link loadRunModel}. */
export interface LoadRunOptions {
  /** 'last' (default), 'best', or a checkpoint file. */
  checkpoint?: 'last' | 'best' | string;
  /** Device for the network (default 'cpu'). */
  device?: string;
  /** The space module of a run searched in one (`--space FILE`; a run folder never names code to load). */
  space?: string;
  /** Where a warning goes (a space module changed since the run); default: process.emitWarning. */
  warn?: (message: string) => void;
}

function checkpointFile(run: RunDir, which: string | undefined): string {
  const file = which === undefined || which === 'last' ? run.lastCheckpoint : which === 'best' ? run.bestCheckpoint : path.resolve(which);
  if (!fs.existsSync(file)) {
    throw new Error(
      which === 'best'
        ? `${run.dir} has no checkpoints/best.pt (it is written once the architecture is frozen); use the last checkpoint`
        : `${file} does not exist${which === undefined || which === 'last' ? ' (the run has not finished an epoch yet)' : ''}`,
    );
  }
  return file;
}

/** The first dimension of the state-dict tensor `key` (or of the first key matching `re`). */
function dimOf(sd: Record<string, Tensor>, re: RegExp, axis: number): number | null {
  const k = Object.keys(sd).find((key) => re.test(key));
  return k ? (sd[k].shape[axis] ?? null) : null;
}

/** Generated colours for classes a data set gives none for (the PASCAL VOC colour map, background black). */
function fillPalette(palette: RGB[] | undefined, n: number): RGB[] {
  const base = (palette ?? []).slice(0, n).map((c) => [c[0], c[1], c[2]] as RGB);
  if (base.length < n) {
    const gen = vocColormap(Math.max(256, n + base.length));
    const used = new Set(base.map((c) => c.join()));
    for (const c of gen) {
      if (base.length >= n) break;
      if (!used.has(c.join())) {
        base.push(c);
        used.add(c.join());
      }
    }
  }
  return base;
}

/** Constants of the built-in data sets, for machines that do not hold the data. */
const BUILT_IN: Record<
  string,
  () => Omit<DatasetMeta, 'name' | 'source' | 'inChannels' | 'mean' | 'std'> & { stats: { mean: number; std: number } | { mean: number[]; std: number[] } }
> = {
  cityscapes: () => ({
    task: 'segmentation',
    numClasses: 19,
    classNames: [...CITYSCAPES_CLASSES],
    palette: CITYSCAPES_PALETTE.map((c) => [...c] as RGB),
    ignoreIndex: 255,
    stats: IMAGENET_STATS,
  }),
  voc: () => ({
    task: 'segmentation',
    numClasses: VOC_CLASSES.length,
    classNames: [...VOC_CLASSES],
    palette: vocColormap(VOC_CLASSES.length),
    ignoreIndex: 255,
    stats: IMAGENET_STATS,
  }),
  // The statistics src/data/fashion.ts states for its default settings.
  'fashion-scenes': () => ({
    task: 'segmentation',
    numClasses: FASHION_SCENE_CLASSES.length,
    classNames: [...FASHION_SCENE_CLASSES],
    palette: FASHION_SCENE_PALETTE.map((c) => [...c] as RGB),
    ignoreIndex: 255,
    stats: { mean: [...FASHION_SCENE_STATS.mean], std: [...FASHION_SCENE_STATS.std] },
  }),
  'fashion-mnist': () => ({
    task: 'classification',
    numClasses: 10,
    classNames: [...FASHION_CLASSES],
    palette: vocColormap(10),
    ignoreIndex: 255,
    stats: { ...FASHION_MNIST_STATS },
  }),
};

/**
 * The metadata of a run's data set: read from the data set (validation split, one sample's worth
 * of scanning) when it is reachable, else the built-in constants of the known data sets.
 */
export function datasetMeta(cfg: Pick<SearchConfig, 'dataset' | 'dataRoot'>, inChannels?: number): DatasetMeta {
  const fit = (v: number[], C: number) => (v.length === C ? v : new Array(C).fill(v[0]));
  let ds: Dataset | null = null;
  let problem = '';
  try {
    const o: Record<string, unknown> = { split: 'val', limit: 1 };
    if (cfg.dataRoot) o.root = cfg.dataRoot;
    if (inChannels !== undefined && (cfg.dataset === 'fashion-mnist' || cfg.dataset === 'brain-mri')) o.channels = inChannels;
    ds = getDataset(cfg.dataset, o as never);
  } catch (e) {
    problem = (e as Error).message;
  }
  if (ds) {
    const C = inChannels ?? ds.channels;
    return {
      name: cfg.dataset,
      task: ds.task,
      numClasses: ds.numClasses,
      inChannels: C,
      classNames: [...ds.classNames],
      palette: fillPalette(ds.palette, ds.numClasses),
      mean: fit(ds.stats.mean, C),
      std: fit(ds.stats.std, C),
      ignoreIndex: ds.ignoreIndex,
      source: 'dataset',
    };
  }
  const known = BUILT_IN[cfg.dataset];
  if (!known) throw new Error(`cannot read the metadata of data set '${cfg.dataset}' (class names, colours, normalisation): ${problem}`);
  const k = known();
  const C = inChannels ?? (cfg.dataset === 'fashion-mnist' ? 1 : 3);
  const mean = Array.isArray(k.stats.mean) ? fit(k.stats.mean, C) : new Array(C).fill(k.stats.mean);
  const std = Array.isArray(k.stats.std) ? fit(k.stats.std, C) : new Array(C).fill(k.stats.std);
  return {
    name: cfg.dataset,
    task: k.task,
    numClasses: k.numClasses,
    inChannels: C,
    classNames: k.classNames,
    palette: fillPalette(k.palette, k.numClasses),
    mean,
    std,
    ignoreIndex: k.ignoreIndex,
    source: 'built-in',
  };
}

/**
 * config.json of a run over the current defaults (settings added since the run keep their
 * defaults). A run searched in a space module needs `space`: the module, named by the caller.
 */
export function readRunConfig(runDir: string, o: SavedRunOptions = {}): SearchConfig {
  return savedConfig(new RunDir(path.resolve(runDir)), o);
}

/**
 * Rebuilds the network a run ended with (or holds at its last checkpoint), in eval mode.
 *
 * @example
 * const m = loadRunModel('runs/cs');
 * const logits = torch.noGrad(() => m.network.forward(x));
 * m.dispose();
 */
export function loadRunModel(runDir: string, opts: LoadRunOptions = {}): RunModel {
  const run = new RunDir(path.resolve(runDir));
  const config = readRunConfig(runDir, opts);
  const file = checkpointFile(run, opts.checkpoint);
  const ck = readRunCheckpoint(run, file);
  try {
    const { phase, epoch } = ck;
    let genotype: Genotype;
    if (ck.genotype) genotype = ck.genotype;
    else if (fs.existsSync(run.genotypeFile)) genotype = run.readJson<Genotype>(run.genotypeFile);
    else throw new Error(`${file} holds no genotype and ${run.genotypeFile} does not exist`);
    const sd = ck.model;

    const task = runTask(config);
    // The weights say what the network takes and gives (the built-in spaces' keys), else what
    // config.json recorded at the start; the data set only names things.
    let meta: DatasetMeta | null = null;
    let metaProblem: string | undefined;
    const recorded = savedNetwork(run);
    const inW = dimOf(sd, /^stem\.0\.weight$/, 1) ?? recorded?.inChannels ?? null;
    const classesW =
      (task === 'classification' ? dimOf(sd, /^classifier\.weight$/, 0) : dimOf(sd, /^heads\.s\d+\.classifier\.weight$/, 0)) ?? recorded?.numClasses ?? null;
    try {
      meta = datasetMeta(config, inW ?? undefined);
    } catch (e) {
      metaProblem = (e as Error).message;
    }
    const inChannels = inW ?? meta?.inChannels;
    const numClasses = classesW ?? meta?.numClasses;
    if (!inChannels || !numClasses) throw new Error(`cannot tell the input channels and classes of ${file}: ${metaProblem ?? 'unexpected state-dict keys'}`);
    if (meta && meta.numClasses !== numClasses) {
      meta = {
        ...meta,
        numClasses,
        classNames: Array.from({ length: numClasses }, (_, i) => meta!.classNames[i] ?? `class ${i}`),
        palette: fillPalette(meta.palette, numClasses),
      };
    }

    // The input size the network was built for (the lattice fits its ASPP rates to it): what its
    // genotype recorded, as the search saw it from its data. Without it the rates would be the
    // fixed defaults, a network of the same weights computing something else.
    const recordedSize = (genotype.settings as { inputSize?: unknown } | undefined)?.inputSize;
    const inputSize =
      Array.isArray(recordedSize) && recordedSize.length === 2 && recordedSize.every((v) => Number.isInteger(v) && v > 0)
        ? ([recordedSize[0], recordedSize[1]] as [number, number])
        : (config.crop ?? config.size ?? undefined);
    const data = { kind: task, numClasses, inChannels, ...(inputSize ? { inputSize } : {}) } as TaskData;
    const space = buildSearchable(config, data);
    let network: nn.Module;
    if (phase === 'frozen') {
      network = space.derive(genotype, { release: true });
      space.releaseArchitecture(); // what a released derive leaves of the supernet
      loadInto(network, sd, file, 'the derived network');
    } else if (phase === 'retrain') {
      network = space.build(genotype);
      space.dispose();
      loadInto(network, sd, file, 'the retrained network');
    } else {
      loadInto(space.module, sd, file, 'the supernet');
      network = space.derive(genotype, { release: true });
      space.releaseArchitecture(); // what a released derive leaves of the supernet
    }
    if (opts.device && opts.device !== 'cpu') {
      checkDevice(opts.device);
      network.to(opts.device);
    }
    network.eval();
    return {
      dir: run.dir,
      config,
      genotype,
      phase,
      epoch,
      checkpoint: file,
      network,
      task,
      numClasses,
      inChannels,
      meta,
      metaProblem,
      dispose: () => network.dispose(),
    };
  } finally {
    dispose(ck);
  }
}

function loadInto(m: nn.Module, sd: Record<string, Tensor>, file: string, what: string): void {
  try {
    m.loadStateDict(sd);
  } catch (e) {
    throw new Error(`${file}: its weights do not fit ${what} rebuilt from config.json and the genotype (${(e as Error).message})`);
  }
}

/** Options of {@link exportRun}: which files to write (none given: all four into `<run>/export/`). */
export interface ExportRunOptions extends LoadRunOptions {
  /** ONNX model file. */
  onnx?: string;
  /** PyTorch state dict (torch.save of the network's state dict; Python: torch.load). */
  pt?: string;
  /** Genotype JSON. */
  genotype?: string;
  /** Standalone PyTorch model.py: its build() makes the network the .pt loads into. */
  python?: string;
  /** Fixed ONNX input height/width (default: dynamic). */
  height?: number | null;
  width?: number | null;
  /** Append a softmax over classes to the ONNX graph. */
  softmax?: boolean;
}

/** What {@link exportRun} wrote. */
export interface ExportRunResult {
  onnx?: string;
  pt?: string;
  genotype?: string;
  python?: string;
  /** Why model.onnx was not written with the default targets (a module without an ONNX exporter); an `onnx` target asked for fails instead. */
  onnxSkipped?: string;
  /**
   * Why model.py was not written with the default targets (a module of the network has no
   * Python exporter); a `python` target asked for fails instead.
   */
  pythonSkipped?: string;
  phase: string;
  epoch: number;
  task: 'segmentation' | 'classification';
  numClasses: number;
  inChannels: number;
  parameters: number;
  meta: DatasetMeta | null;
}

/** The space's name: the genotype's (a space module's own name, not its path), else the setting. */
const spaceName = (m: RunModel): string => (typeof m.genotype.space === 'string' ? m.genotype.space : m.config.space);

/** The ONNX metadata_props of a run's model: what a consumer needs to feed it and read it. */
export function runMetadata(m: RunModel): Record<string, string> {
  const out: Record<string, string> = {
    'dnas.space': spaceName(m),
    'dnas.phase': m.phase,
    'dnas.epoch': String(m.epoch),
    'dnas.genotype': JSON.stringify(m.genotype),
    'dnas.dataset': m.config.dataset,
    task: m.task,
    num_classes: String(m.numClasses),
    input: `NCHW float32, ${m.inChannels} channel(s): (pixel / 255 - mean) / std`,
    output: m.task === 'segmentation' ? 'logits [N, classes, H, W] at the input size' : 'logits [N, classes]',
  };
  if (m.meta) {
    out.class_names = JSON.stringify(m.meta.classNames);
    out.palette = JSON.stringify(m.meta.palette);
    out.mean = JSON.stringify(m.meta.mean);
    out.std = JSON.stringify(m.meta.std);
  }
  return out;
}

/** What model.py of a run says about itself: the run, the genotype, the data set's names and normalisation. */
function runPythonOptions(m: RunModel, weights: string): PythonExportOptions {
  const constants: Record<string, unknown> = {};
  const notes = [`Trained by dnas on ${m.config.dataset}: ${m.task}, ${m.numClasses} classes${m.meta ? ' (CLASS_NAMES)' : ''}.`];
  if (m.meta) {
    Object.assign(constants, { CLASS_NAMES: m.meta.classNames, MEAN: m.meta.mean, STD: m.meta.std });
    notes.push('Prepare an image as in training: values in [0, 1] (pixel / 255), then (x - MEAN[c]) / STD[c] per channel.');
  }
  return {
    title: `dnas ${spaceName(m)} network of run '${path.basename(m.dir)}' (${m.phase}, epoch ${m.epoch})`,
    notes,
    genotype: m.genotype,
    constants,
    weights,
    input: `float32 [N, ${m.inChannels}, H, W]${m.meta ? ', normalised with MEAN and STD' : ''}`,
    output: m.task === 'segmentation' ? `logits [N, ${m.numClasses}, H, W]` : `logits [N, ${m.numClasses}]`,
  };
}

/**
 * Exports the final network of a run: ONNX (dynamic batch and image size unless fixed), the
 * state dict as a .pt file that Python's torch.load reads, the genotype JSON, and a standalone
 * PyTorch model.py whose build() makes the network that .pt loads into.
 *
 * @example
 * exportRun('runs/cs', { onnx: 'cs.onnx' });
 * exportRun('runs/cs'); // runs/cs/export/model.onnx, model.pt, genotype.json, model.py
 */
export function exportRun(runDir: string, opts: ExportRunOptions = {}): ExportRunResult {
  const targets = { onnx: opts.onnx, pt: opts.pt, genotype: opts.genotype, python: opts.python };
  const byDefault = !targets.onnx && !targets.pt && !targets.genotype && !targets.python;
  if (byDefault) {
    const dir = path.join(path.resolve(runDir), 'export');
    Object.assign(targets, {
      onnx: path.join(dir, 'model.onnx'),
      pt: path.join(dir, 'model.pt'),
      genotype: path.join(dir, 'genotype.json'),
      python: path.join(dir, 'model.py'),
    });
  }
  const m = loadRunModel(runDir, opts);
  try {
    // A run folder may come from someone else: its export/ must not lead elsewhere.
    if (byDefault) ensureDirNoFollow(path.join(path.resolve(runDir), 'export'), 'dnas export');
    const result: ExportRunResult = {
      phase: m.phase,
      epoch: m.epoch,
      task: m.task,
      numClasses: m.numClasses,
      inChannels: m.inChannels,
      parameters: m.network.numParameters(),
      meta: m.meta,
    };
    if (targets.onnx) {
      try {
        const bytes = exportOnnx(m.network, {
          inChannels: m.inChannels,
          height: opts.height,
          width: opts.width,
          softmax: opts.softmax,
          graphName: `dnas-${spaceName(m)}`,
          metadata: runMetadata(m),
          doc: `dnas ${spaceName(m)} network of run ${path.basename(m.dir)} (${m.phase}, epoch ${m.epoch})`,
        });
        writeFileAtomic(path.resolve(targets.onnx), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        result.onnx = targets.onnx;
      } catch (e) {
        // As for model.py: a module of the user's own without an ONNX exporter costs that file only.
        if (!(byDefault && e instanceof OnnxExportError)) throw e;
        result.onnxSkipped = e.message;
      }
    }
    if (targets.pt) {
      writeFileAtomic(path.resolve(targets.pt), serialize(m.network.stateDict()));
      result.pt = targets.pt;
    }
    if (targets.genotype) {
      writeFileAtomic(path.resolve(targets.genotype), JSON.stringify(m.genotype, null, 2) + '\n');
      result.genotype = targets.genotype;
    }
    if (targets.python) {
      try {
        savePython(m.network, path.resolve(targets.python), runPythonOptions(m, path.basename(targets.pt ?? 'model.pt')));
        result.python = targets.python;
      } catch (e) {
        // A network with a module of the user's own that has no Python exporter still gets the other files.
        if (!(byDefault && e instanceof PythonExportError)) throw e;
        result.pythonSkipped = e.message;
      }
    }
    return result;
  } finally {
    m.dispose();
  }
}
