import { mariadbSkipReason } from './support/mariadb.js';
import { localMariadbServer } from './support/mariadb-server.js';
import { describeServerRestart } from './support/server-restart.js';

const mariadbSkip = await mariadbSkipReason();
const server = localMariadbServer();
if (typeof server === 'string' && process.env.CI) {
  throw new Error(`The MariaDB restart test must run in CI, but ${server}.`);
}

describeServerRestart(
  'MariaDB',
  'mariadb',
  server,
  mariadbSkip || (typeof server === 'string' ? server : false),
);
