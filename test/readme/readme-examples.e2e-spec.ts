import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

// Sources live next to this file's compiled copy's source: out/test/readme -> test/readme.
const root = new URL('../../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const folder = new URL('test/readme/', root);

describe('README examples', () => {
  for (const file of readdirSync(folder).filter((name) => !name.startsWith('readme-'))) {
    it(`shows test/readme/${file} verbatim, so the examples it shows are the ones that run`, () => {
      const source = readFileSync(new URL(file, folder), 'utf8').trimEnd();
      assert.ok(
        readme.includes(`\`\`\`ts\n${source}\n\`\`\``),
        `README.md must contain test/readme/${file} in a ts block`,
      );
    });
  }
});
