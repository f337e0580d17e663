/**
 * dnas/space: search spaces (DARTS cells, the multi-scale segmentation lattice, user-declared
 * spaces), their candidate operations and relaxations, genotypes, derived networks and cost.
 * A space imports no strategy. See docs/spaces.md.
 *
 * @example
 * import { DartsSpace } from 'dnas/space';
 * const space = new DartsSpace({ C: 16, layers: 8 });
 * const logits = space.forward(x);
 * const net = space.derive(space.decode(), { release: true });
 */
export * from './ops';
export * from './relaxation';
export * from './choices';
export * from './genotype';
export * from './space';
export * from './cell';
export * from './darts';
export * from './lattice-grid';
export * from './lattice';
export * from './lattice-space';
export * from './cost';
export * from './partial';
export * from './random';
