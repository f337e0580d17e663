/**
 * The `dnas` command. Each sub-command lives in its own module; this file only dispatches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };

export const HELP = `dnas ${pkg.version}: differentiable neural architecture search on libtorch

Usage: dnas <command> [options]

Commands:
  demo      single-stage search on bundled brain MRI slices (brain-mri), under a minute on 2
            cores; prints the final mIoU, genotype, gap, run folder and report
  search    run an architecture search (see dnas search --help)
  train     train the network of a genotype from scratch (see dnas train --help)
  info      summary table of a run directory: dnas info RUN_DIR
  eval      evaluate a run's final network on the validation split
  export    the final network as ONNX, a PyTorch state dict and genotype JSON
  predict   colour-coded masks and overlays for images
  report    a self-contained HTML report of a run
  experiment
            re-run a claim of the paper at CPU scale: gap, entropy, single-vs-two, split
            (see dnas experiment --help and docs/experiments.md)
  version   print the dnas and libtorch versions
  help      print this help (dnas help COMMAND: that command's help; -h or --help after any
            command does the same and nothing else)

Options: -v, --version (dnas and libtorch versions). Exit codes: 0 done, 1 failed, 2 a wrong
command line, 130/143 stopped by Ctrl-C/SIGTERM.

Run \`npm run demo\` and \`npm test\` from a checkout; both set up what is missing first.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo')).demo,
  search: async () => (await import('./search')).search,
  info: async () => (await import('./info')).info,
  train: async () => (await import('./train')).train,
  eval: async () => (await import('./ship')).evalCmd,
  export: async () => (await import('./ship')).exportCmd,
  predict: async () => (await import('./ship')).predict,
  report: async () => (await import('./ship')).report,
  experiment: async () => (await import('./experiment')).experiment,
  version: async () => async () => {
    const torch = await import('../torch');
    const v = torch.versions();
    console.log(`dnas ${pkg.version}, libtorch ${v.libtorch} (C++11 ABI ${v.cxx11Abi ? 1 : 0}), CUDA ${torch.cuda.isAvailable() ? 'yes' : 'no'}`);
    return 0;
  },
};

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help']);
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') return main(['version']);
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`dnas: unknown command '${cmd}'. Commands: ${Object.keys(COMMANDS).join(', ')}, help (dnas --help)`);
    return 2;
  }
  return (await load())(rest);
}
