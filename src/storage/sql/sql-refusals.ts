import { ZapierMessages } from '../../zapier.messages.js';

/**
 * SQLSTATE classes of PostgreSQL errors caused by a value in the statement rather than by the
 * database or the statement itself: 22 data exception (22021: a NUL character in text), 54
 * program limit exceeded (54000: an index row too big).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const POSTGRES_VALUE_CLASSES = new Set(['22', '54']);
/**
 * SQLite's equivalents: a string or blob over SQLITE_MAX_LENGTH, a value of the wrong type.
 * https://www.sqlite.org/rescode.html
 */
const SQLITE_VALUE_CODES = new Set(['SQLITE_TOOBIG', 'SQLITE_MISMATCH']);

/**
 * MySQL's and MariaDB's (mysql2 names them): a string too long for its column (strict mode),
 * a string the column's character set cannot hold, a statement larger than max_allowed_packet.
 * https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html
 */
const MYSQL_VALUE_CODES = new Set([
  'ER_DATA_TOO_LONG',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_NET_PACKET_TOO_LARGE',
]);

const codeOf = (error: unknown): string | undefined => {
  const holder = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = holder?.driverError?.code ?? holder?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Why a write failed because of a value it carried, or `undefined` when it failed for any other
 * reason (the connection, a timeout, a lock, a missing table, a bug): only a value can make one
 * item of a batch fail where its neighbours would succeed. A `RangeError` is a value JSON cannot
 * serialise (nested too deep for the stack, or a string over V8's limit), thrown before any
 * statement was sent. The reason is a fragment for messages, safe for a log line.
 */
export function refusedValue(error: unknown): string | undefined {
  if (error instanceof RangeError) return ZapierMessages.valueNotSerialisable(error.message);
  const code = codeOf(error);
  if (code === undefined) return undefined;
  const refused =
    (/^[0-9A-Z]{5}$/.test(code) && POSTGRES_VALUE_CLASSES.has(code.slice(0, 2))) ||
    SQLITE_VALUE_CODES.has(code) ||
    MYSQL_VALUE_CODES.has(code);
  return refused
    ? ZapierMessages.valueRefusedByDatabase(code, error instanceof Error ? error.message : '')
    : undefined;
}
