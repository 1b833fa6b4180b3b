import ipaddr from 'ipaddr.js';
import { ZapierMessages } from '../zapier.messages.js';

/** Zapier's documented limit for `callback_url` (docs/decisions.md#f3-callback-url). */
const MAX_CALLBACK_URL_LENGTH = 2048;
const MAX_QUOTED_LENGTH = 80;

/**
 * The `callback_url` rule that a URL broke (docs/decisions.md#d11).
 *
 * @publicApi
 */
export type ZapierCallbackUrlRule = 'length' | 'syntax' | 'https' | 'private-address';

/**
 * Thrown by {@link validateCallbackUrl} before any request is sent, for a `callback_url` that
 * Zapier would answer with 400.
 *
 * @publicApi
 */
export class ZapierCallbackUrlError extends Error {
  override readonly name = 'ZapierCallbackUrlError';

  constructor(
    readonly rule: ZapierCallbackUrlRule,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a `callback_url` against Zapier's rules (docs/decisions.md#d11): at most 2048
 * characters, an absolute URL, `https:`, and, when the host is an IP literal (IPv4, or IPv6 in
 * brackets, IPv4-mapped forms included), a public unicast address. `localhost` and
 * `*.localhost` are refused too, since they are loopback by definition (RFC 6761).
 *
 * Other host names are deliberately not resolved: DNS may answer differently between this check
 * and Zapier's call, and Zapier checks the resolved address itself.
 *
 * @throws ZapierCallbackUrlError naming the broken rule.
 * @publicApi
 */
export function validateCallbackUrl(url: string): void {
  if (url.length > MAX_CALLBACK_URL_LENGTH) {
    fail(
      'length',
      ZapierMessages.callbackUrlTooLong(quote(url), url.length, MAX_CALLBACK_URL_LENGTH),
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail('syntax', ZapierMessages.callbackUrlNotAbsolute(quote(url)));
  }
  if (parsed.protocol !== 'https:') {
    fail('https', ZapierMessages.callbackUrlNotHttps(quote(url), parsed.protocol));
  }
  const host = parsed.hostname;
  const publicIp = isPublicIpLiteral(host);
  if (publicIp === false || isLocalhostName(host)) {
    fail('private-address', ZapierMessages.callbackUrlPrivate(quote(url), host));
  }
}

/**
 * Whether a host is a public unicast IP literal: `true` or `false` for an IPv4 literal (in any
 * form the WHATWG URL parser accepts, such as `2130706433`) or an IPv6 literal with or without
 * brackets, and `null` when the host is not an IP literal at all.
 *
 * @publicApi
 */
export function isPublicIpLiteral(host: string): boolean | null {
  const address = parseIpLiteral(host);
  return address === null ? null : address.range() === 'unicast';
}

function parseIpLiteral(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':')) {
    // process() turns IPv4-mapped IPv6 (::ffff:10.0.0.1) into the IPv4 address it carries.
    return ipaddr.IPv6.isValid(bare) ? ipaddr.process(bare) : null;
  }
  // Normalise through the WHATWG parser so 0x7f.1 or 2130706433 are read as fetch would read them.
  let canonical: string;
  try {
    canonical = new URL(`https://${bare}/`).hostname;
  } catch {
    return null;
  }
  return ipaddr.IPv4.isValidFourPartDecimal(canonical) ? ipaddr.process(canonical) : null;
}

function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

function quote(value: string): string {
  const shown =
    value.length > MAX_QUOTED_LENGTH ? `${value.slice(0, MAX_QUOTED_LENGTH - 1)}…` : value;
  return `"${shown}"`;
}

function fail(rule: ZapierCallbackUrlRule, message: string): never {
  throw new ZapierCallbackUrlError(rule, message);
}
