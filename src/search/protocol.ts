/**
 * The single-stage protocol's decisions (dnas's design; the reference paper states the protocol,
 * not these rules):
 *
 * - When to freeze: after `freezeEpoch` when set. Otherwise automatically, once the decoded
 *   architecture has stayed the same for `freezePatience` consecutive search epochs *and* the
 *   weights have converged (mean margin between the two strongest options per choice at least
 *   `freezeMargin`, and mean entropy below `freezeEntropy` when set), or at the latest after
 *   `freezeMaxEpoch` epochs (default: the warm-up plus a tenth of the run, at least 2), converged or not. The reason is recorded.
 * - How to freeze: decode, derive the discrete network from the supernet's own modules (pruned
 *   ones released), keep the weight optimizer's state for every kept parameter, so that momentum
 *   and the learning-rate schedule carry on as if nothing had happened, and re-estimate the
 *   derived network's BatchNorm statistics (they were collected under the mixture).
 */
import { Tensor } from '../torch';
import { SGD } from '../torch/optim';
import { searchEnd, SearchConfig } from './config';

export type FreezeRule = Pick<
  SearchConfig,
  'freezeEpoch' | 'freezePatience' | 'freezeMargin' | 'freezeEntropy' | 'freezeMaxEpoch' | 'epochs' | 'warmupEpochs' | 'protocol'
>;

/** What the freeze rule sees after an epoch. */
export interface FreezeState {
  /** Finished epochs (1-based). */
  epoch: number;
  /** Decoded genotypes of the finished search epochs (JSON strings, oldest first). */
  history: string[];
  /** Mean margin between the two strongest options per choice (see convergence.ts). */
  margin: number;
  /** Mean entropy of the relaxation weights. */
  entropy: number;
}

/** Whether to freeze now, and why (null reason: not yet). */
export function freezeDecision(rule: FreezeRule, s: FreezeState): { freeze: boolean; reason: string | null } {
  if (rule.freezeEpoch !== null) {
    return s.epoch >= rule.freezeEpoch ? { freeze: true, reason: `fixed freeze epoch ${rule.freezeEpoch}` } : { freeze: false, reason: null };
  }
  const last = s.history[s.history.length - 1];
  let unchanged = 0; // epochs since the decoded architecture last changed
  for (let i = s.history.length - 2; i >= 0 && s.history[i] === last; i--) unchanged++;
  const stable = s.history.length > 0 && unchanged >= rule.freezePatience;
  const sharp = s.margin >= rule.freezeMargin;
  const cool = rule.freezeEntropy === null || s.entropy < rule.freezeEntropy;
  const state = `decoded architecture unchanged for ${unchanged} epoch${unchanged === 1 ? '' : 's'}, mean margin ${s.margin.toFixed(3)}`;
  if (stable && sharp && cool) {
    return { freeze: true, reason: `converged: ${state} (>= ${rule.freezeMargin})${rule.freezeEntropy === null ? '' : `, entropy ${s.entropy.toFixed(3)}`}` };
  }
  const cap = searchEnd(rule);
  if (s.epoch >= cap) return { freeze: true, reason: `latest freeze epoch ${cap} reached before convergence: ${state}` };
  return { freeze: false, reason: null };
}

/**
 * A new SGD over `kept` (a subset of `old`'s parameters, same tensors) that carries over their
 * momentum buffers, learning rates and hyper-parameters.
 */
export function retainOptimizer(old: SGD, kept: Tensor[]): SGD {
  const oldParams = old.paramGroups.flatMap((g) => g.params);
  const index = new Map(oldParams.map((p, i) => [p.handle, i]));
  const missing = kept.filter((p) => !index.has(p.handle));
  if (missing.length)
    throw new Error(
      `retainOptimizer: ${missing.length} parameter(s) of the derived network are not in the optimizer (were they re-created instead of inherited?)`,
    );
  const o = old.paramGroups[0].options;
  const next = new SGD(kept, { ...o });
  const sd = old.stateDict();
  const state: Record<string, Record<string, unknown>> = {};
  kept.forEach((p, i) => {
    const s = sd.state[String(index.get(p.handle))];
    if (s) state[String(i)] = s;
  });
  next.loadStateDict({ state, param_groups: [{ ...sd.param_groups[0], params: kept.map((_, i) => i) }] });
  // Release the state of the parameters that were pruned.
  const keptIndex = new Set(kept.map((p) => String(index.get(p.handle))));
  for (const [k, s] of Object.entries(sd.state)) {
    if (keptIndex.has(k)) continue;
    for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
  }
  return next;
}
