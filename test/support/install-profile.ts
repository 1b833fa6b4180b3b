import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/**
 * The repository's root: the nearest folder above this file whose package.json is the package's.
 * Specs run compiled, from out/ or from an install profile's copy of it (compat/<name>/out/).
 */
export const REPOSITORY_ROOT = ((): string => {
  for (
    let dir = dirname(fileURLToPath(import.meta.url));
    dir !== dirname(dir);
    dir = dirname(dir)
  ) {
    if (existsSync(join(dir, 'package.json')) && readManifest(dir).name === 'nestjs-zapier') {
      return dir;
    }
  }
  throw new Error(`No nestjs-zapier package.json above ${fileURLToPath(import.meta.url)}.`);
})();

/** The install profile the specs run inside (`npm test -- --profile nest11`), if any. */
export const PROFILE = process.env.TEST_PROFILE || undefined;

/**
 * The host whose node_modules this run resolves packages from: compat/<profile>/ inside a profile,
 * else the repository; `ranges` are what its package.json asks for.
 */
export function currentHost(): { dir: string; ranges: Record<string, string> } {
  const dir = PROFILE ? join(REPOSITORY_ROOT, 'compat', PROFILE) : REPOSITORY_ROOT;
  const manifest = readManifest(dir);
  return { dir, ranges: { ...manifest.devDependencies, ...manifest.dependencies } };
}
