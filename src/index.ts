/**
 * dnas: differentiable neural architecture search with a single-stage searching protocol.
 * The engine is also available alone as `dnas/torch`.
 */
export * as torch from './torch';
export * as space from './space';
export * as data from './data';
export * as search from './search';
export { runSearch } from './search/run';
export * as metrics from './metrics';
export * as exporting from './export';
export * as report from './report';
