import { describe } from 'node:test';
import type { Engine } from './data-sources.js';
import type { Adapter } from './zapier-app.js';

/** How the host registers the module. */
export type Registration = 'forRoot' | 'forRootAsync';

/** One combination of registration, HTTP adapter and database engine. */
export interface Cell {
  registration: Registration;
  adapter: Adapter;
  engine: Engine;
  /** For `startZapierApp({ async })`. */
  async: boolean;
  /** `express + sqlite (forRoot)`, for titles. */
  name: string;
  /** `express_sqlite_forroot`, for database names and run ids. */
  key: string;
}

export const REGISTRATIONS: readonly Registration[] = ['forRoot', 'forRootAsync'];
export const ADAPTERS: readonly Adapter[] = ['express', 'fastify'];
export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

/** Every combination: (forRoot | forRootAsync) × (Express | Fastify) × (SQLite | PostgreSQL). */
export const CELLS: readonly Cell[] = REGISTRATIONS.flatMap((registration) =>
  ADAPTERS.flatMap((adapter) =>
    ENGINES.map((engine) => ({
      registration,
      adapter,
      engine,
      async: registration === 'forRootAsync',
      name: `${adapter} + ${engine} (${registration})`,
      key: `${adapter}_${engine}_${registration}`.toLowerCase(),
    })),
  ),
);

/**
 * One `describe` per cell, titled `${title} on ${cell.name}`. PostgreSQL cells are skipped with
 * `pgSkip` as the visible reason; pass what `postgresSkipReason()` returns, which throws instead
 * when `CI=true`, so CI always runs them.
 */
export function describeOnEachCell(
  title: string,
  pgSkip: string | false,
  body: (cell: Cell) => void,
  cells: readonly Cell[] = CELLS,
): void {
  for (const cell of cells) {
    void describe(`${title} on ${cell.name}`, { skip: cell.engine === 'postgres' && pgSkip }, () =>
      body(cell),
    );
  }
}
