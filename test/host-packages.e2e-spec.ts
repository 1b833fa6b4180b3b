import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { currentHost, PROFILE } from './support/install-profile.js';

/** The peers whose majors an install profile changes, and the adapters and drivers beside them. */
const PACKAGES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/event-emitter',
  '@nestjs/schedule',
  '@nestjs/typeorm',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  'typeorm',
  'better-sqlite3',
];

/** `^11.2.10` → `11`, `^0.3.31` → `0.3`: the part of a version a caret range holds fixed. */
const lineOf = (version: string): string => {
  const [major, minor] = version.replace(/^[\^~=v]+/, '').split('.');
  return major === '0' ? `0.${minor}` : (major ?? '');
};

// The suite proves nothing about Nest 11 if a spec in the Nest 11 profile quietly loaded Nest 12
// from the repository's node_modules: this pins down what the module's own code resolves.
describe(`the packages the module loads (${PROFILE ? `compat/${PROFILE}` : 'the repository'})`, () => {
  const host = currentHost();
  // Resolved from the compiled module itself, as its own imports are.
  const fromModule = createRequire(new URL('../src/index.js', import.meta.url));
  // The package.json of the folder node finds for `name` (not through "exports", which typeorm 1
  // keeps it out of).
  const installed = (name: string): { manifest: string; version: string } => {
    const manifest = (fromModule.resolve.paths(name) ?? [])
      .map((dir) => join(dir, name, 'package.json'))
      .find((file) => existsSync(file));
    assert.ok(manifest, `${name} is not installed`);
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    return { manifest, version };
  };

  for (const name of PACKAGES) {
    it(`${name} comes from the host's node_modules, in the major it asks for`, () => {
      const { manifest, version } = installed(name);
      assert.equal(manifest, join(host.dir, 'node_modules', ...name.split('/'), 'package.json'));
      const range = host.ranges[name];
      assert.ok(range, `${join(host.dir, 'package.json')} does not list ${name}`);
      assert.equal(lineOf(version), lineOf(range), `${name} ${version} installed for ${range}`);
    });
  }

  if (PROFILE === 'nest11') {
    it('is Nest 11 with TypeORM 0.3 in compat/nest11', () => {
      const lines = ['@nestjs/core', '@nestjs/event-emitter', 'typeorm'].map((name) =>
        lineOf(installed(name).version),
      );
      assert.deepEqual(lines, ['11', '3', '0.3']);
    });
  }
});
