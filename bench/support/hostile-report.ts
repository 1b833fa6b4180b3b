import type { HostilePairResult, HostileResult } from '../hostile.js';
import { FLOOD_KINDS, type FloodKind } from './flood-messages.js';

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const kib = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${number(bytes / 1024 / 1024, 1)} MiB` : `${number(bytes / 1024, 1)} KiB`;

const KIND_LABEL: Record<FloodKind, string> = {
  upload: 'unsigned upload (declares 20 MiB)',
  'bomb-br-unsigned': 'unsigned brotli bomb',
  'bomb-gzip-unsigned': 'unsigned gzip bomb',
  'bomb-br-signed': 'signed brotli bomb',
  'bomb-gzip-signed': 'signed gzip bomb',
  'random-kid': 'random-kid token (foreign key)',
};

/** The targets of the hostile scenario (bench/README.md, "Hostile traffic"). */
export const HOSTILE_TARGETS = { rssGrowthMb: 100, throughputShare: 0.7, genuineRefused: 0 };

export interface HostileVerdicts {
  rss: boolean;
  throughput: boolean;
  refused: boolean;
}

export function hostileVerdicts(pair: HostilePairResult): HostileVerdicts {
  return {
    rss: pair.rssMb.growth < HOSTILE_TARGETS.rssGrowthMb,
    throughput: pair.throughputShare >= HOSTILE_TARGETS.throughputShare,
    refused: pair.flooded.refused + pair.baseline.refused === HOSTILE_TARGETS.genuineRefused,
  };
}

const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${status} × ${number(count)}`)
    .join(', ') || '—';

/** The genuine callbacks and the server's memory, one row per pair. */
export function hostileTable(result: HostileResult): string {
  const header =
    '| pair | genuine callbacks/s, baseline → flooded | share | p50 ms | p99 ms | genuine refused | RSS MB before → peak → after | RSS growth | JWKS fetches during the floods |';
  const rule = '|---|--:|--:|--:|--:|--:|--:|--:|--:|';
  const rows = result.pairs.map((p) =>
    [
      p.pair,
      `${number(p.baseline.rate)} → ${number(p.flooded.rate)}`,
      `${number(p.throughputShare * 100)}%`,
      `${number(p.baseline.p50Ms, 1)} → ${number(p.flooded.p50Ms, 1)}`,
      `${number(p.baseline.p99Ms, 1)} → ${number(p.flooded.p99Ms, 1)}`,
      `${number(p.flooded.refused)} of ${number(p.flooded.requests)}` +
        (p.baseline.refused > 0 ? ` (baseline: ${number(p.baseline.refused)})` : ''),
      `${p.rssMb.before} → ${Math.max(p.rssMb.peakSampled, p.rssMb.peakKernel ?? 0)} → ${p.rssMb.after}`,
      `+${p.rssMb.growth} MB`,
      `${p.jwksFetches} in ${number(p.flood.seconds, 1)} s (${number(p.jwksPerSecond, 2)}/s)`,
    ].join(' | '),
  );
  return [header, rule, ...rows.map((row) => `| ${row} |`)].join('\n');
}

/** What the flood sent and how it was answered, over both flooded rounds of every pair. */
export function floodTable(result: HostileResult): string {
  const header =
    '| pair | flood request | sent | answers | median answer ms | median close after answer ms | body bytes the socket took |';
  const rule = '|---|---|--:|---|--:|--:|--:|';
  const rows = result.pairs.flatMap((p) =>
    FLOOD_KINDS.map((kind) => {
      const k = p.flood.kinds[kind];
      return [
        p.pair,
        KIND_LABEL[kind],
        number(k.sent),
        statuses(k.statuses) + (k.unfinished > 0 ? `; ${k.unfinished} open at the stop` : ''),
        k.answerMs ?? '—',
        k.closeAfterAnswerMs ?? '—',
        kib(k.bytesWritten),
      ].join(' | ');
    }),
  );
  return [header, rule, ...rows.map((row) => `| ${row} |`)].join('\n');
}

/** One line per pair: each target and whether it was met. */
export function hostileVerdictLines(result: HostileResult): string[] {
  return result.pairs.map((p) => {
    const v = hostileVerdicts(p);
    const met = (ok: boolean) => (ok ? 'MET' : 'MISSED');
    return (
      `- ${p.pair}: RSS growth +${p.rssMb.growth} MB (target < ${HOSTILE_TARGETS.rssGrowthMb}) ${met(v.rss)}; ` +
      `genuine throughput ${number(p.throughputShare * 100)}% of the unflooded rounds (target ≥ ${HOSTILE_TARGETS.throughputShare * 100}%) ${met(v.throughput)}; ` +
      `genuine refused ${p.flooded.refused + p.baseline.refused} (target 0) ${met(v.refused)}; ` +
      `events ${number(p.events)} / distinct ids ${number(p.ackedDistinctIds)} ${p.events === p.ackedDistinctIds ? '✓' : '✗'}`
    );
  });
}

/** The hostile section of latest.md. */
export function formatHostile(result: HostileResult): string {
  const first = result.pairs[0];
  const mix = result.mix;
  const paced = Object.entries(mix.paced)
    .filter(([, perSecond]) => perSecond > 0)
    .map(([kind, perSecond]) => `${KIND_LABEL[kind as FloodKind]} ${perSecond}/s`)
    .join(', ');
  const refusals = result.pairs
    .flatMap((p) =>
      FLOOD_KINDS.flatMap((kind) =>
        Object.entries(p.flood.kinds[kind].firstBodies).map(
          ([status, body]) => `${p.pair} ${kind} ${status}: ${body.slice(0, 140)}`,
        ),
      ),
    )
    .filter((line, i, all) => all.indexOf(line) === i);
  return [
    `Hostile traffic (ZapierModule; rounds of ${first?.roundSeconds ?? '?'} s in the order baseline, flood, flood, baseline; ` +
      `genuine load ${result.connections} keep-alive connections; flood from its own process: ` +
      `${mix.uploadConnections} unsigned uploads declaring ${kib(mix.uploadBytes)} at once, ${paced}; ` +
      `brotli bomb ${kib(result.bombs.br.wire)} → ${kib(result.bombs.br.inflated)}, gzip bomb ${kib(result.bombs.gzip.wire)} → ${kib(result.bombs.gzip.inflated)}; ` +
      `load average ${result.loadAverage.start.toFixed(1)} at the start, ${result.loadAverage.end.toFixed(1)} at the end; ` +
      `MALLOC_ARENA_MAX ${result.mallocArenaMax ?? 'unset'}):`,
    '',
    hostileTable(result),
    '',
    ...hostileVerdictLines(result),
    '',
    floodTable(result),
    '',
    `V8 heap reserved/used and external memory, MB, before the first flood → at the highest RSS sample: ${result.pairs
      .map((p) => {
        const at = (m: HostilePairResult['rssMb']['atStart'] | null) =>
          m ? `${m.heapTotal}/${m.heapUsed}, ${m.external}` : '?';
        return `${p.pair} ${at(p.rssMb.atStart)} → ${at(p.rssMb.atPeak)}`;
      })
      .join('; ')}.`,
    '',
    `Flood generator CPU: ${result.pairs.map((p) => `${p.pair} ${number(p.flood.cpuShare * 100)}%`).join(', ')} of a core. ` +
      `RSS peak: ${result.pairs.map((p) => `${p.pair} sampled ${p.rssMb.peakSampled} MB (${p.rssMb.samples} samples), kernel high-water mark ${p.rssMb.peakKernel ?? '?'} MB`).join('; ')}.`,
    '',
    'First answer body per status:',
    ...refusals.map((line) => `  ${line}`),
  ].join('\n');
}
