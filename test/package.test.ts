/**
 * dnas as a dependency: `npm pack`, then `npm install` of the tarball into a fresh project builds
 * the native addon by itself (scripts/install.js), ships no tests, and a search runs through the
 * public API and the `dnas` command. npm takes the dependencies from its cache when it has them
 * (npm ci of this checkout filled it). About two minutes, most of it the addon's build.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { missingDebianData } from '../src/data';
import { tempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const npm = (args: string[], cwd: string) =>
  spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_audit: 'false', npm_config_fund: 'false' },
  });

test(
  'npm install of the packed package builds the addon and runs a search through the public API',
  { skip: missingDebianData('brain-mri') ?? false, timeout: 900_000 },
  () => {
    const dir = tempDir('dnas-package-');
    // --ignore-scripts: prepack would run the set-up, which `npm test` has just done
    const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    assert.equal(pack.status, 0, pack.stderr);
    const info = JSON.parse(pack.stdout)[0] as { filename: string; files: { path: string }[] };
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes('dist/src/index.js') && files.includes('native/serialize.cc') && files.includes('scripts/install.js'));
    assert.deepEqual(
      files.filter((f) => /test|^src\/|^bench\//.test(f)),
      [],
      'no tests, sources or benchmarks in the package',
    );

    const project = path.join(dir, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-dnas', version: '1.0.0', private: true }));
    const install = npm(['install', '--prefer-offline', path.join(dir, info.filename)], project);
    assert.equal(install.status, 0, `${install.stdout}\n${install.stderr}`);
    const pkg = path.join(project, 'node_modules', 'dnas');
    assert.ok(fs.existsSync(path.join(pkg, 'build', 'Release', 'dnas.node')), 'the install script built the addon');
    assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'typescript')), 'no development dependencies');

    const script = `
    const dnas = require('dnas');
    const torch = require('dnas/torch');
    const cfg = dnas.search.resolveConfig({ dataset: 'brain-mri', size: [32, 32], trainSubset: 8, valSubset: 4, batchSize: 4, epochs: 3,
      warmupEpochs: 1, layers: 2, channels: 4, nodes: 1, scales: 2, controlGenotypes: 0, out: 'run' });
    dnas.runSearch(cfg).then(({ summary }) => {
      console.log(JSON.stringify({ epochs: summary.epochs, frozenAt: summary.frozenAt, score: summary.final.score, sum: torch.ones([3]).sum().item() }));
    }, (e) => { console.error(e); process.exit(1); });`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: project, encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { epochs: number; frozenAt: number | null; score: number; sum: number };
    assert.equal(out.epochs, 3);
    assert.equal(out.sum, 3);
    assert.ok(out.score >= 0 && out.score <= 1);
    const cli = spawnSync(path.join(project, 'node_modules', '.bin', 'dnas'), ['info', 'run'], { cwd: project, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /finished: 3 epochs/);
  },
);
