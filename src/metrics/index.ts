export { ConfusionMatrix } from './confusion';
