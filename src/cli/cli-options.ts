import { Option } from 'commander';

/** The environment variable `-d` falls back to. */
export const DATA_SOURCE_ENV = 'NESTJS_ZAPIER_DATA_SOURCE';

/** `-d, --data-source <file>`, for every command that works on the database. */
export function dataSourceOption(): Option {
  return new Option(
    '-d, --data-source <file>',
    "compiled file exporting your TypeORM DataSource, as for TypeORM's CLI (e.g. ./dist/data-source.js)",
  )
    .env(DATA_SOURCE_ENV)
    .makeOptionMandatory();
}

/** `--json`, for every command that prints what it found or did. */
export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of text for people');
}
