import { ZapierMessages } from '../zapier.messages.js';

/**
 * A write was refused before it was queued: more items wait for the database than the queue
 * holds (it is slow or hung). Nothing was written; the caller answers 503 and Zapier retries, so
 * request bodies cannot pile up in memory behind a database that does not answer.
 */
export class ZapierWriteQueueFullError extends Error {
  override readonly name = 'ZapierWriteQueueFullError';

  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super(ZapierMessages.writeQueueFull(queued, limit));
  }
}

/**
 * The database refused a result because of a value in it (PostgreSQL's data exceptions and
 * program limits, a value too large to serialise), tried alone so that it is this result and not
 * its neighbours. Storing it again cannot work: the caller's data is at fault, not our database.
 * `reason` is a short fragment, already safe for a log line.
 */
export class ZapierValueRefusedError extends Error {
  override readonly name = 'ZapierValueRefusedError';

  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(ZapierMessages.valueRefused(reason), options);
  }
}
