/**
 * Fresh apps installed exactly as users install ganport: `npm pack` tarballs of both workspace
 * packages, an example app from examples/ copied to a temp dir with its ganport dependencies
 * pointed at those tarballs, and a plain `npm install`. Used by the fresh-app tests and bench:size.
 * Each goes when the process exits (temporaryDir).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { packageRoot, temporaryDir } from '../src/util/files.js';

export const REPO_ROOT = join(packageRoot(), '..', '..');

export interface PackedPackage {
  name: string;
  tarball: string;
  /** Bytes of the .tgz and of its unpacked files. */
  packedBytes: number;
  unpackedBytes: number;
  files: number;
}

/** Packs @ganport/runtime and ganport (already built) into a temp dir. */
export function packWorkspace(): Map<string, PackedPackage> {
  const dir = temporaryDir('ganport-pack-');
  const json = execFileSync(
    'npm',
    ['pack', '--json', '--pack-destination', dir, '-w', '@ganport/runtime', '-w', 'ganport'],
    { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const packs = JSON.parse(json) as {
    name: string;
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
  }[];
  return new Map(
    packs.map((p) => [
      p.name,
      {
        name: p.name,
        tarball: join(dir, p.filename),
        packedBytes: p.size,
        unpackedBytes: p.unpackedSize,
        files: p.entryCount,
      },
    ]),
  );
}

/** Copies examples/EXAMPLE to a temp dir, points its ganport dependencies at the tarballs and installs it. */
export function installExample(example: string, packs: Map<string, PackedPackage>): string {
  const app = temporaryDir(`ganport-app-${example}-`);
  // the example as committed: not what following its instructions in the checkout left there
  const left = ['node_modules', 'dist', 'public', 'example-grid.png'];
  cpSync(join(REPO_ROOT, 'examples', example), app, {
    recursive: true,
    filter: (from) => !left.includes(relative(join(REPO_ROOT, 'examples', example), from).split(sep)[0]),
  });
  const manifestPath = join(app, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(manifest.dependencies)) {
    const pack = packs.get(name);
    if (pack) manifest.dependencies[name] = `file:${pack.tarball}`;
  }
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  npmInstall(app);
  return app;
}

/** An empty app with both packed packages installed, as `npm install ./ganport-*.tgz ./ganport-runtime-*.tgz` makes it. */
export function installPackedPackages(packs: Map<string, PackedPackage>): string {
  const app = temporaryDir('ganport-app-installed-');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ganport-user-app', private: true }, null, 2));
  npmInstall(
    app,
    [...packs.values()].map((p) => p.tarball),
  );
  return app;
}

/**
 * `npm install` as the README tells users to run it: onnxruntime-node's CUDA download skipped
 * (its CPU and WebGPU providers ship in the npm package).
 */
function npmInstall(app: string, packages: string[] = []): void {
  const args = [
    'install',
    ...packages,
    '--onnxruntime-node-install=skip',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
  ];
  const install = spawnSync('npm', args, { cwd: app, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0) throw new Error(`npm install in ${app} failed:\n${install.stderr}`);
}

/** Bytes under a directory (files only), as `du -sb` counts them. */
export function directoryBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}
