// An install profile under compat/<name>/: a CommonJS host app of its own (package.json, committed
// package-lock.json) holding other majors of the peers (compat/nest11/: Nest 11, TypeORM 0.3). The
// test runner's --profile runs specs again with those packages resolved, as follows:
// - install: `npm ci` in the profile, skipped while node_modules matches the lockfile;
// - the compiled specs and sources (out/src, out/test) are copied under the profile, to
//   compat/<name>/out/, so that node's upward search for packages finds the profile's
//   node_modules before the repository's (ESM resolution has no NODE_PATH to steer it).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Where a profile lives, or a message saying which profiles there are. */
export function locateProfile(root, name) {
  const dir = join(root, 'compat', name);
  if (/^[a-z0-9-]+$/.test(name) && existsSync(join(dir, 'package.json'))) return { dir };
  const known = existsSync(join(root, 'compat'))
    ? readdirSync(join(root, 'compat')).filter((entry) =>
        existsSync(join(root, 'compat', entry, 'package.json')),
      )
    : [];
  return {
    error: `--profile ${name}: no compat/${name}/package.json (profiles: ${known.join(', ') || 'none'}).`,
  };
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (command, args, cwd) =>
  spawnSync(command, args, { cwd, stdio: 'inherit' }).status === 0;
const versionOf = (dir) =>
  existsSync(join(dir, 'package.json'))
    ? JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
    : undefined;

/**
 * Installs the profile's lockfile unless the last install was of the same lockfile. Install
 * scripts are skipped: the one package that has any, better-sqlite3, builds a native addon from
 * source for over a minute, so its binary is taken from the repository's own install when that is
 * the same version of it (the same source, built for the same node), and built only otherwise.
 * Returns false when something failed (npm said why).
 */
export function installProfile(root, dir) {
  const lock = readFileSync(join(dir, 'package-lock.json'));
  const stamp = join(dir, 'node_modules', '.profile-lock.sha256');
  const digest = createHash('sha256').update(lock).update(process.version).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return true;
  const started = performance.now();
  const flags = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'];
  if (!run(npm, ['ci', ...flags], dir)) return false;
  if (!provideSqliteBinary(root, dir)) return false;
  writeFileSync(stamp, digest);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`Installed ${relative(root, dir)}/ in ${seconds} s.`);
  return true;
}

function provideSqliteBinary(root, dir) {
  const own = join(dir, 'node_modules', 'better-sqlite3');
  if (!existsSync(own)) return true;
  const binary = join('build', 'Release', 'better_sqlite3.node');
  const repository = join(root, 'node_modules', 'better-sqlite3');
  if (versionOf(repository) === versionOf(own) && existsSync(join(repository, binary))) {
    mkdirSync(join(own, 'build', 'Release'), { recursive: true });
    copyFileSync(join(repository, binary), join(own, binary));
  } else if (!run(npm, ['rebuild', 'better-sqlite3'], dir)) {
    return false;
  }
  const probe = "require('better-sqlite3')(':memory:').close()";
  return run(process.execPath, ['-e', probe], dir);
}

/**
 * Copies the compiled sources and specs (what runs; not dist/, which only the specs importing the
 * package by name read) to the profile's out/, afresh each time so nothing stale runs there.
 */
export function mirrorCompiled(outDir, dir) {
  const mirror = join(dir, 'out');
  rmSync(mirror, { recursive: true, force: true });
  for (const part of ['src', 'test']) {
    cpSync(join(outDir, part), join(mirror, part), {
      recursive: true,
      filter: (source) => !source.endsWith('.d.ts'),
    });
  }
  // The profile is a CommonJS app; the project's own compiled code inside it stays ESM.
  writeFileSync(join(mirror, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
  return mirror;
}
