import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isPublicIpLiteral,
  validateCallbackUrl,
  ZapierCallbackUrlError,
  type ZapierCallbackUrlRule,
} from './callback-url.js';
import { ZapierMessages } from '../zapier.messages.js';

function ruleOf(url: string): ZapierCallbackUrlRule | 'ok' {
  try {
    validateCallbackUrl(url);
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof ZapierCallbackUrlError, `unexpected ${String(error)}`);
    return error.rule;
  }
}

function errorFor(url: string): ZapierCallbackUrlError {
  try {
    validateCallbackUrl(url);
  } catch (error) {
    assert.ok(error instanceof ZapierCallbackUrlError);
    return error;
  }
  assert.fail(`${url} was accepted`);
}

void describe('validateCallbackUrl', () => {
  const privateHosts: [label: string, host: string][] = [
    ['10/8 start', '10.0.0.0'],
    ['10/8 end', '10.255.255.255'],
    ['172.16/12 start', '172.16.0.0'],
    ['172.16/12 end', '172.31.255.255'],
    ['192.168/16', '192.168.1.1'],
    ['127/8', '127.0.0.1'],
    ['127/8 end', '127.255.255.254'],
    ['0.0.0.0/8', '0.0.0.0'],
    ['0.0.0.0/8 end', '0.255.255.255'],
    ['169.254/16', '169.254.169.254'],
    ['100.64/10 start', '100.64.0.0'],
    ['100.64/10 end', '100.127.255.255'],
    ['multicast', '224.0.0.1'],
    ['broadcast', '255.255.255.255'],
    ['reserved 240/4', '240.0.0.1'],
    ['documentation 192.0.2/24', '192.0.2.10'],
    ['decimal form of 127.0.0.1', '2130706433'],
    ['hex form of 127.0.0.1', '0x7f.1'],
    ['trailing dot', '10.0.0.1.'],
    ['::1', '[::1]'],
    [':: unspecified', '[::]'],
    ['fc00::/7 (fc)', '[fc00::1]'],
    ['fc00::/7 (fd)', '[fdff:ffff::1]'],
    ['fe80::/10 start', '[fe80::1]'],
    ['fe80::/10 end', '[febf:ffff::1]'],
    ['IPv6 multicast', '[ff02::1]'],
    ['IPv4-mapped private', '[::ffff:10.0.0.1]'],
    ['IPv4-mapped loopback (hex)', '[::ffff:7f00:1]'],
    ['IPv4-mapped unspecified', '[::ffff:0.0.0.0]'],
    ['IPv4-compatible loopback', '[::127.0.0.1]'],
    ['IPv4-compatible private', '[::10.0.0.1]'],
    ['IPv4-compatible 0/8', '[::0.0.0.2]'],
    ['IPv4-translated private', '[::ffff:0:192.168.1.1]'],
    ['NAT64 of a private address', '[64:ff9b::10.0.0.1]'],
    ['NAT64 of loopback (hex)', '[64:ff9b::7f00:1]'],
    ['NAT64 of link-local', '[64:ff9b::169.254.169.254]'],
    ['local-use NAT64, whatever it embeds', '[64:ff9b:1::808:808]'],
    ['6to4 of a private address', '[2002:a00:1::1]'],
    ['6to4 of 192.168/16', '[2002:c0a8:101::]'],
    ['6to4 of loopback', '[2002:7f00:1:1::1]'],
    ['Teredo, whatever it embeds', '[2001:0:4136:e378:8000:63bf:3fff:fdd2]'],
    ['Teredo with an all-public look', '[2001:0:808:808::808:808]'],
    ['IPv6 documentation', '[2001:db8::1]'],
    ['localhost', 'localhost'],
    ['sub.localhost', 'api.localhost'],
  ];
  for (const [label, host] of privateHosts) {
    void it(`rejects ${label} (${host}) as private-address`, () => {
      assert.equal(ruleOf(`https://${host}/zapier/callback`), 'private-address');
    });
  }

  const publicHosts: [label: string, host: string][] = [
    ['just below 172.16/12', '172.15.255.255'],
    ['just above 172.16/12', '172.32.0.0'],
    ['just below 100.64/10', '100.63.255.255'],
    ['just above 100.64/10', '100.128.0.0'],
    ['just below 10/8', '9.255.255.255'],
    ['just above 10/8', '11.0.0.0'],
    ['just below 169.254/16', '169.253.255.255'],
    ['just below 192.168/16', '192.167.255.255'],
    ['just below 224/4', '223.255.255.255'],
    ['a public IPv4', '8.8.8.8'],
    ['a public IPv6', '[2606:4700:4700::1111]'],
    ['fbff:: (just below fc00::/7)', '[fbff:ffff::1]'],
    ['fe7f:: (just below fe80::/10)', '[fe7f::1]'],
    ['IPv4-mapped public', '[::ffff:8.8.8.8]'],
    ['IPv4-compatible public', '[::8.8.8.8]'],
    ['IPv4-translated public', '[::ffff:0:8.8.8.8]'],
    ['NAT64 of a public address', '[64:ff9b::8.8.8.8]'],
    ['6to4 of a public address', '[2002:808:808::1]'],
    ['::1:0:0 (just outside ::/96)', '[::1:0:0:1]'],
    ['a host name', 'api.example.com'],
    ['a host name with port', 'api.example.com:8443'],
  ];
  for (const [label, host] of publicHosts) {
    void it(`accepts ${label} (${host})`, () => {
      assert.equal(ruleOf(`https://${host}/zapier/callback?tenant=1`), 'ok');
    });
  }

  void it('accepts exactly 2048 characters and rejects 2049', () => {
    const base = 'https://api.example.com/cb?pad=';
    const exact = base + 'a'.repeat(2048 - base.length);
    assert.equal(exact.length, 2048);
    assert.equal(ruleOf(exact), 'ok');
    assert.equal(ruleOf(exact + 'a'), 'length');
  });

  void it('checks the length before anything else', () => {
    assert.equal(ruleOf(`http://10.0.0.1/${'a'.repeat(2100)}`), 'length');
  });

  for (const garbage of ['', 'not a url', '/relative/path', 'https://', 'https://exa mple.com/']) {
    void it(`rejects ${JSON.stringify(garbage)} as syntax`, () => {
      assert.equal(ruleOf(garbage), 'syntax');
    });
  }

  for (const url of [
    'http://api.example.com/cb',
    'ftp://api.example.com/cb',
    'HTTP://api.example.com/',
    'wss://api.example.com/',
  ]) {
    void it(`rejects ${url} as https`, () => {
      assert.equal(ruleOf(url), 'https');
    });
  }

  void it('accepts an upper-case HTTPS scheme', () => {
    assert.equal(ruleOf('HTTPS://api.example.com/cb'), 'ok');
  });

  void it('names the rule, the value and a fix in the message', () => {
    const error = errorFor('http://api.example.com/cb');
    assert.equal(error.name, 'ZapierCallbackUrlError');
    assert.equal(
      error.message,
      ZapierMessages.callbackUrlNotHttps('"http://api.example.com/cb"', 'http:'),
    );
    assert.ok(error instanceof Error);
  });

  void it('names the offending host for a private address', () => {
    const error = errorFor('https://[::ffff:10.0.0.1]/cb');
    assert.equal(
      error.message,
      ZapierMessages.callbackUrlPrivate(
        '"https://[::ffff:10.0.0.1]/cb"',
        '[::ffff:a00:1]',
        '10.0.0.1',
      ),
    );
  });

  for (const [form, host, embedded] of [
    ['IPv4-compatible', '[::7f00:1]', '127.0.0.1'],
    ['NAT64', '[64:ff9b::a00:1]', '10.0.0.1'],
    ['6to4', '[2002:c0a8:101::1]', '192.168.1.1'],
  ] as const) {
    void it(`names the private address a ${form} host embeds`, () => {
      const url = `https://${host}/cb`;
      const error = errorFor(url);
      assert.equal(error.rule, 'private-address');
      assert.equal(error.message, ZapierMessages.callbackUrlPrivate(`"${url}"`, host, embedded));
    });
  }

  void it('names no embedded address for a Teredo host, refused outright', () => {
    const url = 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/cb';
    assert.equal(
      errorFor(url).message,
      ZapierMessages.callbackUrlPrivate(`"${url}"`, '[2001:0:4136:e378:8000:63bf:3fff:fdd2]'),
    );
  });

  void it('shows a value that is not a URL at all', () => {
    assert.equal(
      errorFor('api.example.com/cb').message,
      ZapierMessages.callbackUrlNotAbsolute('"api.example.com/cb"'),
    );
  });

  void it('truncates a long value in the message', () => {
    const url = `https://api.example.com/${'x'.repeat(3000)}`;
    const error = errorFor(url);
    assert.equal(error.rule, 'length');
    assert.ok(error.message.length < 400, `message is ${error.message.length} long`);
    assert.equal(
      error.message,
      ZapierMessages.callbackUrlTooLong(`"${url.slice(0, 79)}…"`, 3024, 2048),
    );
  });
});

void describe('isPublicIpLiteral', () => {
  const cases: [host: string, expected: boolean | null][] = [
    ['8.8.8.8', true],
    ['10.0.0.1', false],
    ['[::1]', false],
    ['::1', false],
    ['::ffff:10.0.0.1', false],
    ['[::ffff:8.8.8.8]', true],
    ['::127.0.0.1', false],
    ['::7f00:1', false],
    ['::', false],
    ['64:ff9b::10.0.0.1', false],
    ['64:ff9b::8.8.8.8', true],
    ['2002:a00:1::', false],
    ['2002:808:808::', true],
    ['2001::1', false],
    ['2606:4700:4700::1111', true],
    ['2130706433', false],
    ['example.com', null],
    ['localhost', null],
    ['1.2.3.4.5', null],
    ['not:an:address', null],
    ['', null],
  ];
  for (const [host, expected] of cases) {
    void it(`${JSON.stringify(host)} → ${String(expected)}`, () => {
      assert.equal(isPublicIpLiteral(host), expected);
    });
  }
});
