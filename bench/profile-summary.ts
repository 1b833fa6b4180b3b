import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isEntryPoint } from './support/is-entry-point.js';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the samples landed (self time)
 * by function and by area (package, our source file, node internals), and the inclusive time of
 * the functions most often on the stack.
 *
 *   node out/bench/profile-summary.js bench/results/profiles/<file>.cpuprofile [--top 25]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  idleShare: number;
  selfByFunction: ProfileLine[];
  selfByArea: ProfileLine[];
  /** Share of samples with a frame of the area anywhere on the stack. */
  inclusiveByArea: ProfileLine[];
  inclusive: ProfileLine[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The package, our source file, or node internals a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName) && url === '') return functionName;
  if (url === '') return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const ours = /\/(src|bench|test)\/(.+?)\.js$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url;
}

function frameName(frame: CallFrame): string {
  const area = areaOf(frame);
  const name = frame.functionName || '(anonymous)';
  if (SPECIAL.has(name) && frame.url === '') return name;
  return `${name} (${area}:${frame.lineNumber + 1})`;
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    self.set(id, (self.get(id) ?? 0) + delta);
  });
  const idleUs = [...self.entries()]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((sum, [, us]) => sum + us, 0);
  const busyUs = totalUs - idleUs;

  const selfByFunction = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const inclusiveByArea = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const name = frameName(node.callFrame);
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + us);
    const area = areaOf(node.callFrame);
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + us);
    // Inclusive: every distinct function on this sample's stack gets the time once.
    const seen = new Set<string>();
    const seenAreas = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || SPECIAL.has(frame.functionName)) continue;
      const frameArea = areaOf(frame);
      if (!seenAreas.has(frameArea)) {
        seenAreas.add(frameArea);
        inclusiveByArea.set(frameArea, (inclusiveByArea.get(frameArea) ?? 0) + us);
      }
      const key = frameName(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const lines = (map: Map<string, number>, count: number): ProfileLine[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 100) / 10,
        share: busyUs > 0 ? us / busyUs : 0,
      }));
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    idleShare: totalUs > 0 ? idleUs / totalUs : 0,
    selfByFunction: lines(selfByFunction, top),
    selfByArea: lines(selfByArea, top),
    inclusiveByArea: lines(inclusiveByArea, top),
    inclusive: lines(inclusive, top),
  };
}

export function formatProfile(summary: ProfileSummary, title: string): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const block = (heading: string, lines: ProfileLine[]) => [
    `  ${heading}`,
    ...lines.map((line) => `    ${pct(line.share)}  ${line.name}`),
  ];
  return [
    `${title}: ${summary.busyMs} ms busy of ${summary.totalMs} ms sampled (idle ${(summary.idleShare * 100).toFixed(1)}%); shares are of busy time`,
    ...block('self time by area', summary.selfByArea.slice(0, 15)),
    ...block(
      'inclusive time by area (area anywhere on the stack)',
      summary.inclusiveByArea.slice(0, 20),
    ),
    ...block('self time by function', summary.selfByFunction),
    ...block('inclusive time (on the stack)', summary.inclusive),
  ].join('\n');
}

const USAGE = 'Usage: node out/bench/profile-summary.js <file.cpuprofile> [--top N]';

/** The profile file and how many functions to list, or `null` (with the reason) for bad flags. */
function readArgs(argv: string[]): { file: string; top: number } | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { top: { type: 'string', default: '25' } },
    });
  } catch (error) {
    return { error: (error as Error).message };
  }
  const [file, ...extra] = parsed.positionals;
  const top = Number(parsed.values.top);
  if (file === undefined || extra.length > 0) return { error: 'name one .cpuprofile file' };
  if (!Number.isInteger(top) || top < 1) return { error: '--top needs a positive integer' };
  return { file, top };
}

if (isEntryPoint(import.meta.url)) {
  const args = readArgs(process.argv.slice(2));
  if ('error' in args) {
    console.error(`${args.error}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.log(formatProfile(summariseProfile(args.file, args.top), args.file));
  }
}
