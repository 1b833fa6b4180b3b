import { describe } from 'node:test';
import type { Engine, EngineSkips } from './data-sources.js';
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

const cell = (registration: Registration, adapter: Adapter, engine: Engine): Cell => ({
  registration,
  adapter,
  engine,
  async: registration === 'forRootAsync',
  name: `${adapter} + ${engine} (${registration})`,
  key: `${adapter}_${engine}_${registration}`.toLowerCase(),
});

/**
 * Every combination of (forRoot | forRootAsync) × (Express | Fastify) × (SQLite | PostgreSQL),
 * and MariaDB in two of them, crossed so that each registration and each adapter meets it once:
 * where runs are stored is independent of how the module is registered and served, and two
 * cells keep CI's time in bounds.
 */
export const CELLS: readonly Cell[] = [
  ...REGISTRATIONS.flatMap((registration) =>
    ADAPTERS.flatMap((adapter) => ENGINES.map((engine) => cell(registration, adapter, engine))),
  ),
  cell('forRoot', 'express', 'mariadb'),
  cell('forRootAsync', 'fastify', 'mariadb'),
];

/**
 * One `describe` per cell, titled `${title} on ${cell.name}`. A cell whose engine does not
 * answer is skipped with its reason from `skips`; pass what `engineSkipReasons()` returns, which
 * throws instead when `CI=true`, so CI always runs them.
 */
export function describeOnEachCell(
  title: string,
  skips: EngineSkips,
  body: (cell: Cell) => void,
  cells: readonly Cell[] = CELLS,
): void {
  for (const cell of cells) {
    void describe(`${title} on ${cell.name}`, { skip: skips[cell.engine] }, () => body(cell));
  }
}
