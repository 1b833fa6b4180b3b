import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import { ZAPIER_JWKS_MAX_BYTES } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import { backoffDelay } from '../common/backoff.js';
import { readLimitedText, ZapierBodyTooLargeError } from '../common/read-limited-body.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { boundedSleep } from '../common/bounded-sleep.js';

/** The key set could not be fetched; the caller answers 5xx so that Zapier retries. */
export class ZapierKeysUnavailableError extends Error {
  override readonly name = 'ZapierKeysUnavailableError';
}

export interface ZapierKeySetOptions {
  url: string;
  timeoutMs: number;
  cacheMaxAgeMs: number;
  minRefetchIntervalMs: number;
  maxBackoffMs: number;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/** Where the keys stand, for health checks. Times are epoch milliseconds. */
export interface ZapierKeyStatus {
  /** Keys in the last key set fetched; 0 before the first successful fetch. */
  keys: number;
  /** When the key set was last fetched, or `null` if it never was. */
  fetchedAt: number | null;
  /** Why the last fetch failed, while fetches are failing; otherwise `null`. */
  error: string | null;
}

/**
 * Zapier's signing keys, fetched from the JWKS URL and kept in memory.
 *
 * Why not jose's `createRemoteJWKSet`: it refetches an unknown `kid` only 30 s after the last
 * fetch (so a callback signed with a freshly rotated key would get a 401 that Zapier never
 * retries), it fails verification when a stale cache cannot be refreshed, and it reports network
 * errors as plain `TypeError`s. Here:
 * - fetches start at most once per `minRefetchIntervalMs`, whatever asks for them, and
 *   concurrent callers share one fetch; an unknown `kid` refetches at once within that limit,
 *   a miss arriving within the interval waits for the next allowed fetch;
 * - after a failed fetch the next one waits `minRefetchIntervalMs`, doubling per further failure
 *   up to `maxBackoffMs`; meanwhile a caller that needs a fetch (no keys, or an unknown `kid`)
 *   gets `ZapierKeysUnavailableError` at once, without a fetch;
 * - an old key set is refreshed in the background and kept if the refresh fails (stale-if-error);
 * - a response is read up to `ZAPIER_JWKS_MAX_BYTES`; a longer one is a failed fetch;
 * - every fetch failure becomes `ZapierKeysUnavailableError`, logged once per outage.
 * Key selection itself (`kid`, `alg`, `use`, `key_ops`, one match only) is jose's
 * `createLocalJWKSet`, which also caches the imported keys.
 */
export class ZapierKeySet {
  private readonly logger = new Logger('ZapierSignature');
  private keySet: LocalKeySet | undefined;
  private kids = new Set<string>();
  private keyCount = 0;
  private fetchedAt = -Infinity;
  /** Earliest start of the next fetch. */
  private nextFetchAt = -Infinity;
  /** Failed fetches in a row; more than 0 is an outage. */
  private failures = 0;
  private lastFailure: ZapierKeysUnavailableError | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly options: ZapierKeySetOptions,
    private readonly clock: ZapierClock,
  ) {}

  /** The `getKey` function `jwtVerify` calls with the token's protected header. */
  readonly getKey = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (!this.keySet) {
      await this.refresh();
    } else if (header.kid !== undefined && !this.kids.has(header.kid)) {
      // Possibly a rotated key: look again before rejecting (docs/decisions.md#d8).
      await this.refresh();
    } else if (this.clock.now() - this.fetchedAt > this.options.cacheMaxAgeMs) {
      this.refresh().catch(() => undefined);
    }
    return (this.keySet as LocalKeySet)(header, token);
  };

  /**
   * Fetches the keys when none are loaded yet or they are older than `cacheMaxAgeMs`, as a
   * callback would (within the same rate limit and backoff), then says where they stand. Never
   * throws: a failed fetch is in `error`, and keys fetched before it are still counted.
   */
  async status(): Promise<ZapierKeyStatus> {
    if (!this.keySet || this.clock.now() - this.fetchedAt > this.options.cacheMaxAgeMs) {
      await this.refresh().catch(() => undefined);
    }
    return {
      keys: this.keyCount,
      fetchedAt: this.keySet ? this.fetchedAt : null,
      error: this.failures > 0 ? (this.lastFailure?.message ?? null) : null,
    };
  }

  /**
   * Fetches the key set, sharing a fetch already under way, and never starting one before
   * `nextFetchAt`: after a success a caller in that window waits for it; after a failure it is
   * refused at once, since the JWKS is known to be down and waiting could take up to
   * `maxBackoffMs`.
   */
  private refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    const wait = this.nextFetchAt - this.clock.now();
    if (wait > 0 && this.failures > 0) {
      const last = this.lastFailure as ZapierKeysUnavailableError;
      return Promise.reject(new ZapierKeysUnavailableError(last.message, { cause: last.cause }));
    }
    this.inflight = (async () => {
      try {
        if (wait > 0) await boundedSleep(wait);
        const startedAt = this.clock.now();
        this.nextFetchAt = startedAt + this.options.minRefetchIntervalMs;
        await this.fetchKeys();
      } catch (error) {
        this.failures += 1;
        this.lastFailure = error as ZapierKeysUnavailableError;
        this.nextFetchAt =
          this.clock.now() +
          backoffDelay(this.failures, this.options.minRefetchIntervalMs, this.options.maxBackoffMs);
        throw error;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    let jwks: JSONWebKeySet;
    try {
      const response = await fetch(this.options.url, {
        redirect: 'manual',
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(ZapierMessages.jwksStatus(response.status));
      }
      jwks = JSON.parse(await readJwks(response)) as JSONWebKeySet;
      const keySet = createLocalJWKSet(jwks);
      this.keySet = keySet;
      this.keyCount = jwks.keys.length;
      this.kids = new Set(
        jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'),
      );
      this.fetchedAt = this.clock.now();
      if (this.failures > 0) this.logger.log(ZapierMessages.keysReachableAgain(this.options.url));
      this.failures = 0;
    } catch (error) {
      const reason = describeFetchError(error);
      if (this.failures === 0) {
        this.logger.error(
          this.keySet
            ? ZapierMessages.keysRefreshFailed(this.options.url, reason)
            : ZapierMessages.keysFetchFailed(this.options.url, reason),
        );
      }
      throw new ZapierKeysUnavailableError(reason, { cause: error });
    }
  }
}

async function readJwks(response: Response): Promise<string> {
  try {
    return await readLimitedText(response, ZAPIER_JWKS_MAX_BYTES);
  } catch (error) {
    if (error instanceof ZapierBodyTooLargeError) {
      throw new Error(ZapierMessages.jwksTooLarge(error.limit), { cause: error });
    }
    throw error;
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string } | undefined)?.code;
    if (error.name === 'TimeoutError') return 'timed out';
    return cause ? `${error.message} (${cause})` : error.message;
  }
  return String(error);
}
