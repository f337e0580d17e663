// A search space of your own, for `dnas search --space examples/spaces/tiny-seg.js`
// (docs/spaces.md walks through it). A plain CommonJS module: it exports the space's name, its
// task and a function that builds the supernet from dnas's layers and labelled choices.
const { torch, space } = require('dnas');

const { nn } = torch;

// The candidates of every block, by their names in dnas's operation registry (docs/spaces.md).
const CANDIDATES = ['sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'skip_connect'];

/** One searched block: a LayerChoice among the candidates, all keeping C channels and the size. */
function block(label, C) {
  const candidates = Object.fromEntries(CANDIDATES.map((op) => [op, space.createOp(op, C, 1, true)]));
  return new space.LayerChoice(candidates, { label });
}

module.exports = {
  // The `space` of this space's genotypes (letters, digits, '_', '.', '-').
  name: 'tiny-seg',
  // dnas checks it against the data set.
  task: 'segmentation',
  // Called once for the supernet, and again whenever a network of a genotype is built. `config`
  // holds the run's settings: --layers and --channels size this space.
  supernet({ inChannels, numClasses, config }) {
    const C = config.channels;
    const blocks = [];
    for (let i = 0; i < config.layers; i++) blocks.push(block(`block${i}`, C));
    return new nn.Sequential(
      new nn.Conv2d(inChannels, C, 3, { padding: 1, bias: false }),
      new nn.BatchNorm2d(C),
      ...blocks,
      new nn.ReLU(),
      new nn.Conv2d(C, numClasses, 1),
    );
  },
};
