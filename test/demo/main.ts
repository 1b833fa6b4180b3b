import 'reflect-metadata';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseDemoArgs } from './options.js';
import { runDemo, type DemoIo } from './run-demo.js';

/**
 * The demo's command line (`npm start -- --help`): reads the flags, runs the demo, and returns
 * the exit code. Ctrl-C (or SIGTERM) closes the app and the sandbox before returning.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: DemoIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const parsed = parseDemoArgs(argv, env);
  if (parsed.kind === 'help') {
    io.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`${parsed.message}\nRun with --help to see the options.\n`);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runDemo(parsed.options, io, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Everything is closed by now, so the process ends on its own; if a handle leaked, say so.
  setTimeout(() => {
    process.stderr.write('The demo finished but something kept the process alive; exiting.\n');
    process.exit(code);
  }, 3000).unref();
}
