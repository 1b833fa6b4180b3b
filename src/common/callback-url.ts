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
 * brackets), a public unicast address. An IPv6 literal that embeds an IPv4 address (IPv4-mapped
 * `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible `::/96`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the IPv4 address it embeds; Teredo
 * `2001::/32` and the local-use NAT64 prefix `64:ff9b:1::/48` are refused outright.
 * `localhost` and `*.localhost` are refused too, since they are loopback by definition
 * (RFC 6761).
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
  const address = parseIpLiteral(host);
  const verdict = address === null ? null : judge(address);
  if (verdict?.public === false || isLocalhostName(host)) {
    fail(
      'private-address',
      ZapierMessages.callbackUrlPrivate(quote(url), host, verdict?.embedded?.toString()),
    );
  }
}

/**
 * Whether a host is a public unicast IP literal: `true` or `false` for an IPv4 literal (in any
 * form the WHATWG URL parser accepts, such as `2130706433`) or an IPv6 literal with or without
 * brackets (judged by the IPv4 address it embeds, if any, as {@link validateCallbackUrl}
 * describes), and `null` when the host is not an IP literal at all.
 *
 * @publicApi
 */
export function isPublicIpLiteral(host: string): boolean | null {
  const address = parseIpLiteral(host);
  return address === null ? null : judge(address).public;
}

interface Verdict {
  public: boolean;
  /** The IPv4 address an IPv6 one embeds, which the verdict is about. */
  embedded?: ipaddr.IPv4;
}

function judge(address: ipaddr.IPv4 | ipaddr.IPv6): Verdict {
  if (address.kind() === 'ipv4') return { public: address.range() === 'unicast' };
  const embedded = embeddedIPv4(address as ipaddr.IPv6);
  if (embedded === undefined) return { public: address.range() === 'unicast' };
  if (embedded === null) return { public: false };
  return { public: embedded.range() === 'unicast', embedded };
}

const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

/**
 * The IPv4 address an IPv6 address embeds (RFC 4291 §2.5.5, RFC 6052, RFC 6145, RFC 3056),
 * `null` for a form refused whatever it embeds, `undefined` for an address that embeds none.
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | null | undefined {
  const bytes = address.toByteArray();
  const last32 = () => new ipaddr.IPv4(bytes.slice(12, 16));
  switch (address.range()) {
    case 'ipv4Mapped':
      return address.toIPv4Address();
    case 'rfc6145':
      return last32();
    case 'rfc6052':
      // Under a local-use prefix (64:ff9b:1::/48, RFC 8215) the operator picks where the IPv4
      // address sits, so it cannot be read back; nothing public lives there anyway.
      return address.match(NAT64_WELL_KNOWN) ? last32() : null;
    case '6to4':
      return new ipaddr.IPv4(bytes.slice(2, 6));
    case 'teredo':
      // A NAT-traversal tunnel to a client behind its own NAT: never a server Zapier should call.
      return null;
    case 'unicast':
      // IPv4-compatible (::a.b.c.d, deprecated); :: and ::1 have ranges of their own.
      return bytes.slice(0, 12).every((byte) => byte === 0) ? last32() : undefined;
    default:
      return undefined;
  }
}

function parseIpLiteral(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':')) {
    return ipaddr.IPv6.isValid(bare) ? ipaddr.IPv6.parse(bare) : null;
  }
  // Normalise through the WHATWG parser so 0x7f.1 or 2130706433 are read as fetch would read them.
  let canonical: string;
  try {
    canonical = new URL(`https://${bare}/`).hostname;
  } catch {
    return null;
  }
  return ipaddr.IPv4.isValidFourPartDecimal(canonical) ? ipaddr.IPv4.parse(canonical) : null;
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
