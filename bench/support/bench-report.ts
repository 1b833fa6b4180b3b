import type { DatabaseName } from './bench-messages.js';
import type { ConfigResult } from './throughput.js';

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (value: number | null) => (value === null ? '—' : `${value.toFixed(2)}×`);
const serverName = { ceiling: 'ceiling (bare endpoint)', peer: 'peer', zapier: 'ZapierModule' };

/**
 * Minimum ZapierModule ÷ peer ratio, by database: the targets in bench/README.md ("Targets").
 * MariaDB has none yet: its rows are measured and reported against the peer without one.
 */
export const TARGET_RATIO: Partial<Record<DatabaseName, number>> = { postgres: 1.5, sqlite: 1.2 };

function eventsCell(result: ConfigResult): string {
  if (result.kind === 'ceiling') return '—';
  const equal = result.events === result.ackedDistinctIds;
  const twice =
    result.distinctEventIds >= 0 && result.distinctEventIds !== result.events
      ? ` (${result.events - result.distinctEventIds} repeated)`
      : '';
  return `${number(result.events)} / ${number(result.ackedDistinctIds)} ${equal ? '✓' : '✗'}${twice}`;
}

/** The results table, in Markdown. */
export function matrixTable(results: readonly ConfigResult[]): string {
  const header =
    '| adapter | database | server | callbacks/s (median) | rounds | p50 ms | p99 ms | errors | × ceiling | × peer | events / distinct ids | server CPU µs/callback | RSS MB start → end |';
  const rule = '|---|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|';
  const rows = results.map((r) =>
    [
      r.adapter,
      r.database ?? '—',
      serverName[r.kind],
      number(r.rate),
      r.roundRates.map((rate) => number(rate)).join(' / '),
      number(r.p50Ms, 1),
      number(r.p99Ms, 1),
      r.errors === 0
        ? '0'
        : `${number(r.errors)} (${Object.entries(r.statuses)
            .map(([status, count]) => `${status}×${count}`)
            .join(', ')})`,
      ratio(r.ratioToCeiling),
      ratio(r.ratioToPeer),
      eventsCell(r),
      number(r.cpuUsPerCallback),
      `${r.rssStartMb} → ${r.rssEndMb}`,
    ].join(' | '),
  );
  return [header, rule, ...rows.map((row) => `| ${row} |`)].join('\n');
}

/** Callbacks/s as horizontal bars, one block per adapter. */
export function barChart(results: readonly ConfigResult[], width = 44): string {
  const lines: string[] = [];
  for (const adapter of ['express', 'fastify'] as const) {
    const group = results.filter((r) => r.adapter === adapter);
    if (group.length === 0) continue;
    const max = Math.max(...group.map((r) => r.rate), 1);
    for (const r of group) {
      const label = `${adapter.padEnd(8)}${(r.database ?? '').padEnd(9)}${r.kind.padEnd(8)}`;
      const bar = '█'.repeat(Math.max(1, Math.round((r.rate / max) * width)));
      lines.push(`${label}${bar} ${number(r.rate)}/s`);
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

/** One line per adapter × database: ZapierModule against the targets. */
export function targetLines(results: readonly ConfigResult[]): string[] {
  const lines: string[] = [];
  for (const zapier of results.filter((r) => r.kind === 'zapier')) {
    const peer = results.find(
      (r) => r.kind === 'peer' && r.adapter === zapier.adapter && r.database === zapier.database,
    );
    if (!peer || zapier.database === null || zapier.ratioToPeer === null) continue;
    const target = TARGET_RATIO[zapier.database];
    const verdict =
      target === undefined
        ? '(no target)'
        : `(target ≥ ${target}×) ${zapier.ratioToPeer >= target ? 'MET' : `MISSED by ${(target - zapier.ratioToPeer).toFixed(2)}×`}`;
    const p99 = zapier.p99Ms <= peer.p99Ms;
    const events = zapier.events === zapier.ackedDistinctIds && zapier.errors === 0;
    // Rounds of the same cycle ran seconds apart, so their ratios share the background load.
    const paired = zapier.roundRates
      .map((rate, i) => (peer.roundRates[i] ? (rate / peer.roundRates[i]).toFixed(2) : '?'))
      .join(' / ');
    lines.push(
      `- ${zapier.adapter}/${zapier.database}: ${zapier.ratioToPeer.toFixed(2)}× the peer (rounds paired: ${paired}) ` +
        `${verdict}; ` +
        `p99 ${number(zapier.p99Ms, 1)} vs ${number(peer.p99Ms, 1)} ms ${p99 ? 'MET' : 'MISSED'}; ` +
        `events = distinct ids, no errors: ${events ? 'yes' : 'NO'}`,
    );
  }
  return lines;
}

/** How busy the load generator was: near 100% of a core, it (not the server) set the pace. */
export function loadgenLine(results: readonly ConfigResult[]): string {
  const shares = results.map(
    (r) =>
      `${r.adapter}${r.database ? `/${r.database}` : ''} ${r.kind} ${Math.round(r.loadgenCpu * 100)}%`,
  );
  return `Load generator CPU during the rounds (share of one core; near 100% means it set the pace): ${shares.join(', ')}.`;
}

/** PostgreSQL's own counters per request: where the database work goes. */
export function postgresLine(results: readonly ConfigResult[]): string | null {
  const rows = results.filter((r) => r.postgresPerRequest !== null);
  if (rows.length === 0) return null;
  const cells = rows.map((r) => {
    const pg = r.postgresPerRequest as NonNullable<ConfigResult['postgresPerRequest']>;
    return `${r.adapter} ${r.kind} ${pg.commits} / ${pg.inserted} / ${pg.updated} / ${pg.cpuUs ?? '?'} µs`;
  });
  return `PostgreSQL per request (commits / rows inserted / rows updated, from pg_stat_database; CPU of all postgres processes on the host, others' included): ${cells.join('; ')}.`;
}

/** The module's store calls during a run and their average batch size. */
export function statementsLine(result: ConfigResult): string | null {
  if (!result.statements) return null;
  const cells = Object.entries(result.statements)
    .filter(([, counts]) => counts.calls > 0)
    .map(
      ([name, counts]) =>
        `${name} ${counts.calls} calls × ${(counts.rows / counts.calls).toFixed(1)} rows`,
    );
  return `ZapierModule store calls for ${result.requests} requests: ${cells.join(', ')}.`;
}
