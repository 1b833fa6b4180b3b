import type { ValueTransformer } from 'typeorm';

/**
 * Times are stored as epoch milliseconds in BIGINT columns: the same integer comparisons work on
 * PostgreSQL and SQLite in the claim queries, with no time-zone or text-format surprises. The
 * entity exposes them as `Date`. (pg returns BIGINT as a string, hence `Number`.)
 */
export const epochMs: ValueTransformer = {
  to: (value: Date | number | null | undefined) =>
    value instanceof Date ? value.getTime() : (value ?? null),
  from: (value: string | number | null) => (value === null ? null : new Date(Number(value))),
};
