import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh SQLite file in its own temporary folder; `remove()` deletes the folder. */
export function temporarySqliteFile(prefix = 'nestjs-zapier-'): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    path: join(dir, 'zapier.db'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
