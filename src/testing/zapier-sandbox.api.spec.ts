import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ZapierSandbox } from './zapier-sandbox.js';
import type { ZapierSandboxOptions } from './zapier-sandbox.interfaces.js';

interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface ErrorItem {
  status: number;
  code: string;
  title: string;
  detail: string;
  source: { pointer: string | null } | null;
  meta: unknown;
}

const CALLBACK = 'https://app.example.com/zapier/callback';
const REFERENCE_BODY = { data: { action: 'act_1', authentication: 'conn_1', inputs: { a: 1 } } };

async function call(
  sandbox: ZapierSandbox,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = sandbox.accessToken,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function firstError(answer: ApiAnswer): ErrorItem {
  const errors = (answer.json as { errors: ErrorItem[] }).errors;
  assert.equal(errors.length, 1);
  return errors[0];
}

async function createRun(sandbox: ZapierSandbox, body: unknown = REFERENCE_BODY): Promise<string> {
  const answer = await call(sandbox, 'POST', '/v2/action-runs/', body);
  assert.equal(answer.status, 200, answer.text);
  return (answer.json as { data: { id: string } }).data.id;
}

async function withSandbox(
  options: ZapierSandboxOptions,
  test: (sandbox: ZapierSandbox) => Promise<void>,
): Promise<void> {
  const sandbox = await ZapierSandbox.start({ rateLimit: false, ...options });
  try {
    await test(sandbox);
  } finally {
    await sandbox.stop();
  }
}

void describe('ZapierSandbox API: create', () => {
  let sandbox: ZapierSandbox;
  before(async () => {
    sandbox = await ZapierSandbox.start({ rateLimit: false });
  });
  after(() => sandbox.stop());

  void it('answers 401 with the JSON:API envelope without a valid bearer token', async () => {
    for (const token of [null, 'wrong-token']) {
      const answer = await call(sandbox, 'POST', '/v2/action-runs/', REFERENCE_BODY, token);
      assert.equal(answer.status, 401);
      assert.deepEqual(Object.keys(answer.json as object), ['errors']);
      const error = firstError(answer);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'authentication_failed');
      assert.equal(typeof error.title, 'string');
      assert.match(error.detail, /bearer token/);
      assert.equal(error.source, null);
      assert.equal(error.meta, null);
    }
    assert.equal(sandbox.accessToken, 'sandbox-token');
  });

  void it('accepts the reference body on both paths with HTTP 200 and an arun_ id', async () => {
    for (const path of ['/v2/action-runs', '/v2/action-runs/']) {
      const answer = await call(sandbox, 'POST', path, {
        data: { ...REFERENCE_BODY.data, callback_url: CALLBACK },
      });
      assert.equal(answer.status, 200, answer.text);
      const { data } = answer.json as { data: { type: string; id: string } };
      assert.deepEqual(Object.keys(data), ['type', 'id']);
      assert.equal(data.type, 'run');
      assert.match(data.id, /^arun_[0-9a-f]{24}$/);
      assert.deepEqual(sandbox.run(data.id)?.request, {
        action: 'act_1',
        authentication: 'conn_1',
        inputs: { a: 1 },
        callbackUrl: CALLBACK,
        bodyShape: 'reference',
      });
    }
  });

  void it('accepts the guide flat body with input, and a null authentication', async () => {
    const id = await createRun(sandbox, {
      action: 'act_2',
      authentication: null,
      input: { b: 2 },
      callback_url: CALLBACK,
    });
    assert.deepEqual(sandbox.run(id)?.request, {
      action: 'act_2',
      authentication: null,
      inputs: { b: 2 },
      callbackUrl: CALLBACK,
      bodyShape: 'guide',
    });
  });

  void it('answers invalid JSON with 400 parse_error and Zapier meta', async () => {
    for (const body of ['{"data":', '']) {
      const answer = await call(sandbox, 'POST', '/v2/action-runs/', body);
      assert.equal(answer.status, 400);
      assert.deepEqual(firstError(answer), {
        status: 400,
        code: 'parse_error',
        title: 'ParseError',
        detail: 'Malformed request.',
        source: null,
        meta: {
          source: 'ZAPIER',
          full_details: { message: 'Malformed request.', code: 'parse_error' },
        },
      });
    }
  });

  const invalidBodies: [label: string, body: unknown, pointer: string][] = [
    ['an array', [], ''],
    ['a string', 'just text', ''],
    ['no data', {}, '/data'],
    ['data not an object', { data: 'x' }, '/data'],
    ['no action', { data: { authentication: null, inputs: {} } }, '/data/action'],
    ['empty action', { data: { action: '', authentication: null, inputs: {} } }, '/data/action'],
    ['no authentication', { data: { action: 'a', inputs: {} } }, '/data/authentication'],
    [
      'numeric authentication',
      { data: { action: 'a', authentication: 5, inputs: {} } },
      '/data/authentication',
    ],
    ['no inputs', { data: { action: 'a', authentication: null } }, '/data/inputs'],
    ['array inputs', { data: { action: 'a', authentication: null, inputs: [] } }, '/data/inputs'],
    [
      'singular input in the reference body',
      { data: { action: 'a', authentication: null, input: {} } },
      '/data/inputs',
    ],
    [
      'non-string callback_url',
      { data: { action: 'a', authentication: null, inputs: {}, callback_url: 7 } },
      '/data/callback_url',
    ],
    ['flat body without input', { action: 'a', authentication: 'c' }, '/input'],
    ['flat body with inputs', { action: 'a', authentication: 'c', inputs: {} }, '/input'],
  ];
  for (const [label, body, pointer] of invalidBodies) {
    void it(`answers 400 invalid at "${pointer}" for ${label}`, async () => {
      const answer = await call(
        sandbox,
        'POST',
        '/v2/action-runs/',
        typeof body === 'string' ? JSON.stringify(body) : body,
      );
      assert.equal(answer.status, 400, answer.text);
      const error = firstError(answer);
      assert.equal(error.code, 'invalid');
      assert.equal(error.source?.pointer, pointer);
    });
  }

  const badCallbackUrls: [url: string, rule: string][] = [
    ['http://app.example.com/cb', 'https'],
    ['https://10.0.0.1/cb', 'private-address'],
    ['https://[::1]/cb', 'private-address'],
    [`https://app.example.com/${'a'.repeat(2048)}`, 'length'],
    ['not a url', 'syntax'],
  ];
  for (const [url, rule] of badCallbackUrls) {
    void it(`answers 400 naming rule "${rule}" for a bad callback_url`, async () => {
      const before = sandbox.runIds().length;
      const answer = await call(sandbox, 'POST', '/v2/action-runs/', {
        data: { ...REFERENCE_BODY.data, callback_url: url },
      });
      assert.equal(answer.status, 400);
      const error = firstError(answer);
      assert.equal(error.source?.pointer, '/data/callback_url');
      assert.match(error.detail, new RegExp(`rule "${rule}"`));
      assert.equal(sandbox.runIds().length, before, 'no run was created');
    });
  }

  void it('points at /callback_url for the flat body', async () => {
    const answer = await call(sandbox, 'POST', '/v2/action-runs', {
      action: 'a',
      authentication: null,
      input: {},
      callback_url: 'http://app.example.com/cb',
    });
    assert.equal(firstError(answer).source?.pointer, '/callback_url');
  });

  void it('answers 405 and 404 for other methods and routes', async () => {
    assert.equal((await call(sandbox, 'GET', '/v2/action-runs/')).status, 405);
    assert.equal((await call(sandbox, 'DELETE', '/v2/action-runs/arun_x')).status, 405);
    const unknown = await call(sandbox, 'GET', '/v2/zaps');
    assert.equal(unknown.status, 404);
    assert.equal(firstError(unknown).code, 'not_found');
  });

  void it('records every API request with its status and parsed body', async () => {
    const from = sandbox.requests.length;
    await call(sandbox, 'POST', '/v2/action-runs/', { data: 'x' });
    await call(sandbox, 'GET', '/v2/action-runs/arun_missing');
    assert.deepEqual(
      sandbox.requests.slice(from).map(({ method, path, status, body }) => ({
        method,
        path,
        status,
        body,
      })),
      [
        { method: 'POST', path: '/v2/action-runs/', status: 400, body: { data: 'x' } },
        { method: 'GET', path: '/v2/action-runs/arun_missing', status: 404, body: undefined },
      ],
    );
  });

  void it('accepts any token when accessToken is null', async () => {
    await withSandbox({ accessToken: null }, async (open) => {
      assert.equal(open.accessToken, null);
      const answer = await call(open, 'POST', '/v2/action-runs/', REFERENCE_BODY, null);
      assert.equal(answer.status, 200, answer.text);
    });
  });
});

void describe('ZapierSandbox API: outcomes', () => {
  void it('uses queued outcomes first-in first-out, then the outcome option', async () => {
    const seen: string[] = [];
    await withSandbox(
      {
        outcome: (request) => {
          seen.push(request.action);
          return { status: 'error', delayMs: 0 };
        },
      },
      async (sandbox) => {
        sandbox.queueOutcome({ status: 'success', results: [{ n: 1 }], delayMs: 0 });
        sandbox.queueOutcome({ status: 'success', results: [{ n: 2 }], delayMs: 0 });
        const ids = [];
        for (const action of ['q1', 'q2', 'fn']) {
          ids.push(await createRun(sandbox, { data: { ...REFERENCE_BODY.data, action } }));
        }
        await sandbox.whenIdle();
        assert.deepEqual(
          ids.map((id) => sandbox.run(id)?.outcome.results),
          [[{ n: 1 }], [{ n: 2 }], undefined],
        );
        assert.equal(sandbox.run(ids[2])?.status, 'error');
        assert.deepEqual(seen, ['fn']);
      },
    );
  });

  void it('answers a scripted createStatus without creating the run', async () => {
    await withSandbox({}, async (sandbox) => {
      sandbox.queueOutcome({ status: 'success', createStatus: 503 });
      const answer = await call(sandbox, 'POST', '/v2/action-runs/', REFERENCE_BODY);
      assert.equal(answer.status, 503);
      assert.equal(firstError(answer).code, 'service_unavailable');
      await sandbox.whenIdle();
      assert.deepEqual(sandbox.runIds(), []);
    });
  });

  void it('runs the action anyway after a scripted 504 with createRunsAnyway', async () => {
    await withSandbox({}, async (sandbox) => {
      sandbox.queueOutcome({
        status: 'success',
        createStatus: 504,
        createRunsAnyway: true,
        delayMs: 0,
      });
      const answer = await call(sandbox, 'POST', '/v2/action-runs/', REFERENCE_BODY);
      assert.equal(answer.status, 504);
      assert.equal(firstError(answer).code, 'gateway_timeout');
      await sandbox.whenIdle();
      const [id] = sandbox.runIds();
      assert.equal(sandbox.run(id)?.status, 'success');
      assert.equal((await call(sandbox, 'GET', `/v2/action-runs/${id}`)).status, 200);
    });
  });
});

void describe('ZapierSandbox API: polling', () => {
  void it('answers 404 with the envelope for an unknown id', async () => {
    await withSandbox({}, async (sandbox) => {
      const answer = await call(sandbox, 'GET', '/v2/action-runs/arun_nope');
      assert.equal(answer.status, 404);
      assert.equal(firstError(answer).code, 'not_found');
      assert.match(firstError(answer).detail, /arun_nope/);
    });
  });

  void it('requires the bearer token to poll', async () => {
    await withSandbox({}, async (sandbox) => {
      const id = await createRun(sandbox);
      assert.equal(
        (await call(sandbox, 'GET', `/v2/action-runs/${id}`, undefined, null)).status,
        401,
      );
    });
  });

  const pendingCases: [
    style: ZapierSandboxOptions['pendingStyle'],
    status: number,
    body: (id: string) => unknown,
  ][] = [
    [undefined, 200, () => ({ data: { type: 'run', status: 'waiting', results: [], errors: [] } })],
    [
      'running',
      200,
      (id) => ({ data: { type: 'run', run_id: id, status: 'running', results: {}, errors: [] } }),
    ],
    [
      'queued',
      200,
      (id) => ({ data: { type: 'run', run_id: id, status: 'queued', results: {}, errors: [] } }),
    ],
    ['202', 202, () => undefined],
  ];
  for (const [style, status, body] of pendingCases) {
    void it(`answers a pending run with pendingStyle ${style ?? 'default (waiting)'}`, async () => {
      await withSandbox(style ? { pendingStyle: style } : {}, async (sandbox) => {
        sandbox.queueOutcome({ status: 'success', delayMs: 60_000 });
        const id = await createRun(sandbox);
        const answer = await call(sandbox, 'GET', `/v2/action-runs/${id}`);
        assert.equal(answer.status, status);
        assert.deepEqual(answer.json, body(id));
        if (status === 202) assert.equal(answer.text, '');
      });
    });
  }

  void it('answers a completed run in the reference shape, without an id', async () => {
    await withSandbox({}, async (sandbox) => {
      const id = await createRun(sandbox);
      await sandbox.whenIdle();
      const answer = await call(sandbox, 'GET', `/v2/action-runs/${id}/`);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, {
        data: { type: 'run', status: 'success', results: [{ ok: true }], errors: [] },
      });
    });
  });

  void it('answers a completed run in the guide shape with run_id and an object', async () => {
    await withSandbox({ pollShape: 'guide' }, async (sandbox) => {
      sandbox.queueOutcome({
        status: 'success',
        results: [{ first: 1 }, { second: 2 }],
        delayMs: 0,
      });
      const id = await createRun(sandbox);
      await sandbox.whenIdle();
      const answer = await call(sandbox, 'GET', `/v2/action-runs/${id}`);
      assert.deepEqual(answer.json, {
        data: { type: 'run', run_id: id, status: 'success', results: { first: 1 }, errors: [] },
      });
    });
  });

  void it('reports scripted errors, and a default error when none is given', async () => {
    await withSandbox({}, async (sandbox) => {
      const throttled = {
        code: 'throttled',
        title: 'Slow',
        detail: 'Later',
        delay: 30,
        meta: null,
      };
      sandbox.queueOutcome({ status: 'error', errors: [throttled], delayMs: 0 });
      sandbox.queueOutcome({ status: 'error', delayMs: 0 });
      const scripted = await createRun(sandbox);
      const defaulted = await createRun(sandbox);
      await sandbox.whenIdle();
      const first = (await call(sandbox, 'GET', `/v2/action-runs/${scripted}`)).json;
      assert.deepEqual(first, {
        data: { type: 'run', status: 'error', results: [], errors: [throttled] },
      });
      const second = (await call(sandbox, 'GET', `/v2/action-runs/${defaulted}`)).json as {
        data: { status: string; errors: { code: string }[] };
      };
      assert.equal(second.data.status, 'error');
      assert.deepEqual(
        second.data.errors.map((error) => error.code),
        ['user'],
      );
    });
  });

  void it('answers 503 to the first failPolls polls, then the result', async () => {
    await withSandbox({}, async (sandbox) => {
      sandbox.queueOutcome({ status: 'success', failPolls: 2, delayMs: 0 });
      const id = await createRun(sandbox);
      await sandbox.whenIdle();
      const statuses = [];
      for (let poll = 0; poll < 3; poll += 1) {
        statuses.push((await call(sandbox, 'GET', `/v2/action-runs/${id}`)).status);
      }
      assert.deepEqual(statuses, [503, 503, 200]);
      assert.equal(sandbox.run(id)?.polls, 3);
    });
  });

  void it('forgets runs older than 7 days on the sandbox clock', async () => {
    let clock = Date.UTC(2026, 0, 1);
    await withSandbox({ now: () => clock }, async (sandbox) => {
      const id = await createRun(sandbox);
      await sandbox.whenIdle();
      assert.equal(sandbox.run(id)?.createdAt, clock);
      clock += 7 * 24 * 60 * 60 * 1000;
      assert.equal((await call(sandbox, 'GET', `/v2/action-runs/${id}`)).status, 200);
      clock += 1;
      const expired = await call(sandbox, 'GET', `/v2/action-runs/${id}`);
      assert.equal(expired.status, 404);
      assert.equal(firstError(expired).code, 'not_found');
    });
  });

  void it('honours a custom retentionMs', async () => {
    let clock = 1_000_000;
    await withSandbox({ now: () => clock, retentionMs: 1000 }, async (sandbox) => {
      const id = await createRun(sandbox);
      clock += 1001;
      assert.equal((await call(sandbox, 'GET', `/v2/action-runs/${id}`)).status, 404);
    });
  });
});
