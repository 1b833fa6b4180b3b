import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import { ZapierMessages } from '../zapier.messages.js';
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
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * Zapier's signing keys, fetched from the JWKS URL and kept in memory.
 *
 * Why not jose's `createRemoteJWKSet`: it refetches an unknown `kid` only 30 s after the last
 * fetch (so a callback signed with a freshly rotated key would get a 401 that Zapier never
 * retries), it fails verification when a stale cache cannot be refreshed, and it reports network
 * errors as plain `TypeError`s. Here:
 * - an unknown `kid` refetches at once, at most once per `minRefetchIntervalMs`; misses arriving
 *   within that interval wait for the next allowed fetch, and concurrent misses share one fetch;
 * - an old key set is refreshed in the background and kept if the refresh fails (stale-if-error);
 * - every fetch failure becomes `ZapierKeysUnavailableError`, logged once per outage.
 * Key selection itself (`kid`, `alg`, `use`, `key_ops`, one match only) is jose's
 * `createLocalJWKSet`, which also caches the imported keys.
 */
export class ZapierKeySet {
  private readonly logger = new Logger('ZapierSignature');
  private keySet: LocalKeySet | undefined;
  private kids = new Set<string>();
  private fetchedAt = -Infinity;
  private lastFetchStartedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private outage = false;

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
   * Fetches the key set, sharing a fetch already under way, and never starting one sooner than
   * `minRefetchIntervalMs` after the previous start: a caller in that window waits for it.
   */
  private refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    const wait = this.lastFetchStartedAt + this.options.minRefetchIntervalMs - this.clock.now();
    this.inflight = (async () => {
      try {
        if (wait > 0 && this.keySet) await boundedSleep(wait);
        this.lastFetchStartedAt = this.clock.now();
        await this.fetchKeys();
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
      jwks = (await response.json()) as JSONWebKeySet;
      const keySet = createLocalJWKSet(jwks);
      this.keySet = keySet;
      this.kids = new Set(
        jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'),
      );
      this.fetchedAt = this.clock.now();
      if (this.outage) this.logger.log(ZapierMessages.keysReachableAgain(this.options.url));
      this.outage = false;
    } catch (error) {
      const reason = describeFetchError(error);
      if (!this.outage) {
        this.logger.error(
          this.keySet
            ? ZapierMessages.keysRefreshFailed(this.options.url, reason)
            : ZapierMessages.keysFetchFailed(this.options.url, reason),
        );
      }
      this.outage = true;
      throw new ZapierKeysUnavailableError(reason, { cause: error });
    }
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
