import { postgresSkipReason } from './support/postgres.js';
import { localPostgresServer } from './support/postgres-server.js';
import { describeServerRestart } from './support/server-restart.js';

const pgSkip = await postgresSkipReason();
const server = localPostgresServer();
if (typeof server === 'string' && process.env.CI) {
  throw new Error(`The PostgreSQL restart test must run in CI, but ${server}.`);
}

describeServerRestart(
  'PostgreSQL',
  'postgres',
  server,
  pgSkip || (typeof server === 'string' ? server : false),
);
