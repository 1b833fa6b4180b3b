import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { engineSkipReasons } from './support/data-sources.js';
import { createMariadbDatabase } from './support/mariadb.js';
import { createPostgresDatabase } from './support/postgres.js';

/** The compiled demo next to this compiled spec, as `npm start` runs it. */
const DEMO_MAIN = fileURLToPath(new URL('./demo/main.js', import.meta.url));

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the demo as a child process, with none of the caller's DEMO_* variables. */
function runDemo(args: string[], timeoutMs = 60_000): Promise<DemoRun> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('DEMO_')),
  );
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO_MAIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The summary lines of a successful 30-run demo with the default loss of 0.1. */
function assertThirtyRunSummary(run: DemoRun): void {
  const output = `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  assert.equal(run.code, 0, output);
  assert.match(run.stdout, /runs started\s+30 \/ 30\n/, output);
  assert.match(run.stdout, /completed\s+25\n/, output);
  assert.match(
    run.stdout,
    /failed\s+4 {3}\(Zapier error codes: 1 authentication, 1 throttled, 2 user\)/,
  );
  assert.match(run.stdout, /expired\s+1 /, output);
  assert.match(run.stdout, /recovered by polling\s+3 {3}\(of 3 whose callback was never sent\)/);
  assert.match(run.stdout, /duplicates absorbed\s+2 /, output);
  assert.match(run.stdout, /events per run\s+exactly 1 each {3}\(30 events, 30 on attempt 1\)/);
  assert.match(run.stdout, /callbacks\s+28 delivered, all answered 2xx/, output);
  assert.match(run.stdout, /requests spent\s+\d+ \(30 creates \+ \d+ polls\).*; 0 answered 429/);
  assert.match(run.stdout, /\nOK: every run was accounted for exactly once\.\n/, output);
  assert.doesNotMatch(run.stdout, /FAILED/, output);
  assert.ok(run.ms < 45_000, `the demo took ${run.ms} ms`);
}

describe('demo (npm start)', () => {
  it('accounts for 30 runs exactly once on SQLite, and exits 0', { timeout: 90_000 }, async () => {
    const run = await runDemo(['--runs', '30']);
    assertThirtyRunSummary(run);
    // Not a terminal: plain progress lines, no carriage returns or colours.
    assert.match(run.stdout, /^progress: 30\/30 heard /m);
    assert.ok(!run.stdout.includes('\r') && !run.stdout.includes('\u001b'), run.stdout);
  });

  it('--serve keeps answering signed callbacks until Ctrl-C, then exits 0', async () => {
    const child = spawn(process.execPath, [DEMO_MAIN, '--runs', '5', '--serve']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while (!/--data '.*'\n/.test(stdout) && Date.now() < deadline) await sleep(100);
      const url = /curl -i (\S+)/.exec(stdout)?.[1];
      const token = /zapier-callback-signature: ([^']+)'/.exec(stdout)?.[1];
      const body = /--data '(.*)'\n/.exec(stdout)?.[1];
      assert.ok(url && token && body, stdout);
      const send = (headers: Record<string, string>) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      const first = await send({ 'zapier-callback-signature': token });
      assert.deepEqual(await first.json(), { runId: 'arun_from_curl', duplicate: false });
      const again = await send({ 'zapier-callback-signature': token });
      assert.deepEqual(await again.json(), { runId: 'arun_from_curl', duplicate: true });
      assert.equal((await send({})).status, 401);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await closed, 0, stdout);
    assert.match(stdout, /OK: every run was accounted for exactly once\.\n[\s\S]*Stopping\.\n$/);
  });

  it('explains every option with --help', async () => {
    const run = await runDemo(['--help']);
    assert.equal(run.code, 0);
    for (const flag of ['--runs', '--loss', '--database', '--budget', '--serve', '--verbose']) {
      assert.match(run.stdout, new RegExp(`^  ${flag}\\b`, 'm'), `${flag} is not explained`);
    }
    assert.match(run.stdout, /DEMO_DATABASE_URL/);
  });

  it('exits 2 with a message for a mistake on the command line', async () => {
    const bad = await runDemo(['--loss', '2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--loss must be a number from 0 to 1/);
    const scheme = await runDemo(['--database', 'mongodb://127.0.0.1/demo']);
    assert.equal(scheme.code, 2);
    assert.match(
      scheme.stderr,
      /--database must be a postgres:\/\/, mariadb:\/\/ or mysql:\/\/ URL/,
    );
    const unknown = await runDemo(['--rusn', '3']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--help/);
  });
});

const skips = await engineSkipReasons();

describe('demo on PostgreSQL (--database postgres://...)', { skip: skips.postgres }, () => {
  it('accounts for 30 runs exactly once, and exits 0', { timeout: 90_000 }, async () => {
    const url = await createPostgresDatabase('demo');
    const run = await runDemo(['--runs', '30', '--database', url]);
    assertThirtyRunSummary(run);
    assert.match(run.stdout, /store {3}PostgreSQL /);
  });
});

describe('demo on MariaDB (--database mariadb://...)', { skip: skips.mariadb }, () => {
  it('accounts for 30 runs exactly once, and exits 0', { timeout: 90_000 }, async () => {
    const url = new URL(await createMariadbDatabase('demo'));
    url.protocol = 'mariadb:';
    const run = await runDemo(['--runs', '30', '--database', url.toString()]);
    assertThirtyRunSummary(run);
    assert.match(run.stdout, /store {3}MariaDB /);
  });
});
