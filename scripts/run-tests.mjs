// Compiles what the specs need (the package into dist/, everything into out/, both incrementally),
// runs the unit specs (src/**/*.spec.ts) and end-to-end specs (test/**/*e2e-spec.ts) with node's own
// test runner, then prints the plain closing line CI reads: "N passed, N failed, N skipped".
// With --profile <name>, it runs them again inside the install profile compat/<name>/ (other
// majors of the peers; see scripts/compat-profile.mjs): by default the specs in PROFILE_SPECS.
// Usage: node scripts/run-tests.mjs [--clean | --no-build | --watch] [--profile name] [spec ...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';
import { installProfile, locateProfile, mirrorCompiled } from './compat-profile.mjs';

const HELP = `Usage: node scripts/run-tests.mjs [options] [spec or filter ...]   (or npm test -- ...)

Compiles dist/ and out/ incrementally, then runs every spec, or only the ones named: by source
path (test/callback.e2e-spec.ts, src/common/backoff.spec.ts) or by a substring of the compiled
path (callback, test/poller).

Options:
  --clean     delete dist/ and out/ first, compile from scratch (CI does)
  --no-build  run what is already compiled
  --watch     recompile on every change, then run the selected specs again
  --profile <name>
              run the specs (by default the profile's core list) inside compat/<name>/, with
              the packages it installs (npm ci there when its lockfile changed)
  -h, --help

Environment: TEST_OUT_DIR (instead of out/), TEST_CONCURRENCY (default 2),
TEST_FILE_TIMEOUT_MS (default 600000).
`;

function fail(message, code = 1) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    allowNegative: true,
    options: {
      clean: { type: 'boolean', default: false },
      build: { type: 'boolean', default: true },
      watch: { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  fail(`${error.message}\n\n${HELP}`, 2);
}
const { values: options, positionals: filters } = args;
if (options.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (!options.build && (options.clean || options.watch)) {
  fail('--no-build cannot be combined with --clean or --watch.', 2);
}
if (options.profile !== undefined && options.watch) {
  fail('--profile cannot be combined with --watch.', 2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
// Where the compiled tests go (override to keep parallel builds apart).
const outDir = resolve(root, process.env.TEST_OUT_DIR ?? 'out');
if (!relative(outDir, root).startsWith('..')) {
  fail(`TEST_OUT_DIR=${process.env.TEST_OUT_DIR}: needs a directory of its own, not ${outDir}.`, 2);
}
// The package comes first: the specs that import it by name, and their types, read dist/.
const projects = [
  { config: join(root, 'tsconfig.build.json'), outDir: join(root, 'dist') },
  { config: join(root, 'tsconfig.json'), outDir },
];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// tsc's record of its last build lives inside the directory it describes, so that deleting the
// directory also forgets the build.
const buildInfoOf = (project) => join(project.outDir, '.tsbuildinfo');
const compilerOptions = (project) => ({
  outDir: project.outDir,
  incremental: true,
  tsBuildInfoFile: buildInfoOf(project),
});

const SPEC = /^(src\/.*\.spec|test\/.*e2e-spec)\.(ts|js)$/;
// Specs named *.compat-e2e-spec need an install profile's packages: they run with --profile only.
const isProfileOnly = (file) => /\.compat-e2e-spec\.(ts|js)$/.test(file);

// What a profile runs unless told otherwise: the core of the suite (callbacks, delivery, poller,
// client; SQLite and PostgreSQL), the one place the majors differ (listener metadata), which
// packages were loaded, and the packed package installed into fresh host apps.
const PROFILE_SPECS = [
  'src/compat/event-listener-metadata.spec.ts',
  'test/host-packages.e2e-spec.ts',
  'test/callback.e2e-spec.ts',
  'test/callback-signature.e2e-spec.ts',
  'test/delivery.e2e-spec.ts',
  'test/listeners.e2e-spec.ts',
  'test/poller.e2e-spec.ts',
  'test/client.e2e-spec.ts',
  'test/packed-install.compat-e2e-spec.ts',
];

const profile = options.profile === undefined ? undefined : locateProfile(root, options.profile);
if (profile?.error) fail(profile.error, 2);
const requested =
  filters.length > 0 || !profile ? filters : PROFILE_SPECS.map((spec) => join(root, spec));

// A source path names one spec and must exist; anything else is a substring of compiled paths.
const matchers = requested.map((filter) => {
  if (!filter.endsWith('.ts')) return { filter, matches: (file) => file.includes(filter) };
  const source = resolve(process.env.INIT_CWD ?? process.cwd(), filter);
  const path = relative(root, source);
  if (!existsSync(source)) fail(`${filter}: no such file (${source}).`);
  if (!SPEC.test(path)) {
    fail(`${filter} is not a spec: the specs are src/**/*.spec.ts and test/**/*e2e-spec.ts.`);
  }
  if (isProfileOnly(path) && !profile) fail(`${filter} runs only with --profile.`);
  const compiled = path.replace(/\.ts$/, '.js');
  return { filter, matches: (file, dir) => relative(dir, file) === compiled };
});

/** Every file tsc writes for the project, for the sources it has now. */
function outputsOf(project) {
  const config = ts.getParsedCommandLineOfConfigFile(project.config, compilerOptions(project), {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => {},
  });
  // tsc itself reports a config it cannot read.
  if (!config) return undefined;
  const ignoreCase = !ts.sys.useCaseSensitiveFileNames;
  return new Set(
    config.fileNames.flatMap((file) =>
      ts.getOutputFileNames(config, file, ignoreCase).map((output) => resolve(output)),
    ),
  );
}

// tsc never deletes what it wrote for a source that is gone: without this, the compiled spec of a
// deleted or moved source would still run, and a stale module still ship in dist/.
function prune(dir, outputs) {
  for (const entry of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(path, outputs);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (/\.(js|d\.ts)(\.map)?$/.test(entry.name) && !outputs.has(path)) {
      rmSync(path);
    }
  }
}

// tsc's record says what it wrote, not what is still there: it does not write an output deleted
// by hand again until the record is gone too.
const hasAll = (outputs) => [...outputs].every((output) => existsSync(output));

function compile(project) {
  const { outDir: out, tsBuildInfoFile } = compilerOptions(project);
  const flags = ['--outDir', out, '--incremental', '--tsBuildInfoFile', tsBuildInfoFile];
  const args = [tsc, '-p', project.config, ...flags];
  return spawnSync(process.execPath, args, { stdio: 'inherit' }).status === 0;
}

function build(project) {
  const outputs = outputsOf(project);
  if (!outputs) return compile(project);
  prune(project.outDir, outputs);
  if (!compile(project)) return false;
  if (hasAll(outputs)) return true;
  rmSync(buildInfoOf(project), { force: true });
  return compile(project);
}

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? collect(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * The compiled specs in `dir` (out/, or a profile's copy of it) to run; throws when there are
 * none, or a filter matches none.
 */
function select(dir = outDir) {
  const all = [...collect(join(dir, 'src')), ...collect(join(dir, 'test'))]
    .filter((file) => SPEC.test(relative(dir, file)))
    .filter((file) => profile || !isProfileOnly(file))
    .sort();
  const unmatched = matchers.filter(({ matches }) => !all.some((file) => matches(file, dir)));
  if (unmatched.length > 0) {
    const names = unmatched.map(({ filter }) => filter).join(', ');
    throw new Error(`No compiled spec in ${relative(root, dir)}/ matches ${names}.`);
  }
  const files = all.filter(
    (file) => matchers.length === 0 || matchers.some((m) => m.matches(file, dir)),
  );
  if (files.length === 0) throw new Error(`No compiled specs in ${relative(root, dir)}/.`);
  return files;
}

async function runSpecs(files) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];

  // Files named *.serial-e2e-spec.js disturb shared services (they restart PostgreSQL), so they
  // run alone, after everything else.
  const isSerial = (file) => file.endsWith('.serial-e2e-spec.js');
  const phases = [
    {
      files: files.filter((file) => !isSerial(file)),
      concurrency: Number(process.env.TEST_CONCURRENCY ?? 2),
    },
    { files: files.filter(isSerial), concurrency: 1 },
  ].filter((phase) => phase.files.length > 0);

  for (const phase of phases) {
    const stream = run({
      files: phase.files,
      concurrency: phase.concurrency,
      timeout: Number(process.env.TEST_FILE_TIMEOUT_MS ?? 10 * 60_000),
    });
    stream.on('test:pass', ({ details, skip, todo }) => {
      if (details.type === 'suite') return;
      if (skip || todo) counts.skipped += 1;
      else counts.passed += 1;
    });
    stream.on('test:fail', ({ details, name, file }) => {
      if (details.type === 'suite') return;
      counts.failed += 1;
      failures.push(`${relative(root, file ?? '')}: ${name}`);
    });
    await new Promise((resolve) => {
      stream.on('end', resolve);
      stream.compose(spec).pipe(process.stdout, { end: false });
    });
  }

  // Let the reporters flush what they still hold before the closing lines.
  await new Promise((resolve) => setImmediate(resolve));
  if (failures.length > 0) {
    console.log('\nFailed tests:');
    for (const failure of failures) console.log(`  - ${failure}`);
  }
  const summary = `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
  console.log(`\n${summary}`);
  return { summary, failed: counts.failed };
}

/** Recompiles both projects on every change and calls `then` once both compiled cleanly. */
function watch(then) {
  const errors = new Map();
  let settle;
  const host = (project) => {
    const watchHost = ts.createWatchCompilerHost(project.config, compilerOptions(project), ts.sys);
    const name = relative(root, project.outDir);
    watchHost.onWatchStatusChange = (diagnostic, newLine, _options, errorCount) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, newLine);
      console.log(`[${new Date().toLocaleTimeString()}] ${name}: ${message}`);
      // Only "Found N errors. Watching for file changes." carries a count.
      if (errorCount === undefined) return;
      errors.set(project, errorCount);
      // A change under src/ recompiles both projects, and the test build again once dist/
      // changed: wait until neither has anything left to do.
      clearTimeout(settle);
      settle = setTimeout(() => {
        if ([...errors.values()].every((count) => count === 0)) then();
      }, 500);
    };
    return watchHost;
  };
  for (const project of projects) {
    // The first compile happens inside createWatchProgram.
    const program = ts.createWatchProgram(host(project));
    const outputs = outputsOf(project);
    if (outputs && !hasAll(outputs)) {
      program.close();
      rmSync(buildInfoOf(project), { force: true });
      ts.createWatchProgram(host(project));
    }
  }
}

if (options.clean) {
  for (const project of projects) rmSync(project.outDir, { recursive: true, force: true });
}

if (options.watch) {
  // Compiles that land while the specs run make one more run afterwards, not one each.
  let queue = Promise.resolve();
  let queued = false;
  watch(() => {
    if (queued) return;
    queued = true;
    queue = queue.then(async () => {
      queued = false;
      for (const project of projects) {
        const outputs = outputsOf(project);
        if (outputs) prune(project.outDir, outputs);
      }
      try {
        // No summary file here: that one is the last whole run's, for CI.
        await runSpecs(select());
      } catch (error) {
        console.error(error.message);
      }
      console.log('Watching for file changes (Ctrl+C to stop).');
    });
  });
} else {
  if (options.build) {
    const started = performance.now();
    if (!projects.every(build)) process.exit(1);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `Compiled ${projects.map((p) => relative(root, p.outDir)).join('/ and ')}/ in ${seconds} s.`,
    );
  }
  let runDir = outDir;
  if (profile) {
    if (!installProfile(root, profile.dir)) {
      fail(`Could not install ${relative(root, profile.dir)}/.`);
    }
    runDir = mirrorCompiled(outDir, profile.dir);
    // Read by the specs' support code: databases of their own, and which packages to expect.
    process.env.TEST_PROFILE = options.profile;
  }
  let files;
  try {
    files = select(runDir);
  } catch (error) {
    fail(error.message);
  }
  if (profile) console.log(`Running ${files.length} specs in ${relative(root, runDir)}/.`);
  const { summary, failed } = await runSpecs(files);
  // .ci/run prints it again near its very end, after anything else it ran.
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'test-summary.txt'), `${summary}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}
