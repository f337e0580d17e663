/**
 * The single-stage protocol's decisions (dnas's design; the reference paper states the protocol,
 * not these rules):
 *
 * - When to freeze: after `freezeEpoch` when set; otherwise automatically, once the decoded
 *   architecture has stayed the same for `freezePatience` consecutive epochs and, when
 *   `freezeEntropy` is set, the mean entropy of the relaxation weights is below it.
 * - How to freeze: decode, derive the discrete network from the supernet's own modules (pruned
 *   ones released), and keep the weight optimizer's state for every kept parameter, so that
 *   momentum and the learning-rate schedule carry on as if nothing had happened.
 */
import { Tensor } from '../torch';
import { SGD } from '../torch/optim';

export interface FreezeRule {
  freezeEpoch: number | null;
  freezePatience: number;
  freezeEntropy: number | null;
}

/**
 * Whether to freeze after `epoch` (1-based count of finished epochs), given the decoded
 * genotypes of the finished search epochs (as JSON strings, oldest first) and the entropy now.
 */
export function shouldFreeze(rule: FreezeRule, epoch: number, history: string[], entropy: number): boolean {
  if (rule.freezeEpoch !== null) return epoch >= rule.freezeEpoch;
  const k = rule.freezePatience;
  if (history.length < k + 1) return false;
  const last = history[history.length - 1];
  const stable = history.slice(-(k + 1)).every((g) => g === last);
  return stable && (rule.freezeEntropy === null || entropy < rule.freezeEntropy);
}

/**
 * A new SGD over `kept` (a subset of `old`'s parameters, same tensors) that carries over their
 * momentum buffers, learning rates and hyper-parameters.
 */
export function retainOptimizer(old: SGD, kept: Tensor[]): SGD {
  const oldParams = old.paramGroups.flatMap((g) => g.params);
  const index = new Map(oldParams.map((p, i) => [p.handle, i]));
  const missing = kept.filter((p) => !index.has(p.handle));
  if (missing.length) throw new Error(`retainOptimizer: ${missing.length} parameter(s) of the derived network are not in the optimizer (were they re-created instead of inherited?)`);
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
