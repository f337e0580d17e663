/**
 * Builds the supernet a config asks for. The built-in spaces of src/space implement
 * {@link Searchable} as they are, and so does a user's space module (src/search/user-space.ts);
 * this is the only file of src/search that names them.
 */
import { CostModel, costModel, DartsSpace, LATTICE_FORMS, LatticeSpace, SearchSpace } from '../space';
import { isModuleSpace, SearchConfig } from './config';
import { Searchable, TaskData } from './types';
import { loadUserSpace, userSearchSpace } from './user-space';

export function buildSearchable(cfg: SearchConfig, data: Pick<TaskData, 'kind' | 'numClasses' | 'inChannels' | 'inputSize'>): Searchable {
  const common = {
    layers: cfg.layers,
    C: cfg.channels,
    nodes: cfg.nodes,
    inChannels: data.inChannels,
    numClasses: data.numClasses,
    partialChannels: cfg.partialChannels,
    edgeNorm: cfg.edgeNorm,
  };
  if (isModuleSpace(cfg.space)) {
    const ctx = { inChannels: data.inChannels, numClasses: data.numClasses, task: data.kind, config: Object.freeze({ ...cfg }) };
    return userSearchSpace(loadUserSpace(cfg.space), ctx);
  }
  if (cfg.space === 'darts') {
    if (data.kind !== 'classification') throw new Error(`space 'darts' needs a classification data set; '${cfg.dataset}' is segmentation`);
    return new DartsSpace(common);
  }
  if (data.kind !== 'segmentation') throw new Error(`space '${cfg.space}' needs a segmentation data set; '${cfg.dataset}' is classification`);
  return new LatticeSpace({
    ...common,
    scales: cfg.scales,
    ...LATTICE_FORMS[cfg.space],
    inputSize: data.inputSize ?? null,
  });
}

/**
 * The cost model a cost-aware search (`cost` not 'none') minimises, or null. Needs the input size
 * (`size` or `crop`, or a data set of one size).
 */
export function buildCostModel(cfg: SearchConfig, net: Searchable, data: Pick<TaskData, 'inChannels' | 'inputSize'>): CostModel | null {
  if (cfg.cost === 'none') return null;
  if (!(net instanceof SearchSpace)) throw new Error(`cost '${cfg.cost}' needs a dnas search space`);
  if (!data.inputSize) throw new Error(`cost '${cfg.cost}' needs the input size: set --size or --crop`);
  return costModel(net, cfg.cost, [data.inChannels, ...data.inputSize]);
}
