import { safeForLog } from '../common/safe-for-log.js';

/** Where a command writes: what it found on stdout, as JSON with `--json`; problems on stderr. */
export interface CliOutput {
  readonly json: boolean;
  /** Prints `data` as JSON with `--json`, else the human text `human()` renders. */
  result(data: unknown, human: () => string): void;
  /** A line for a person (progress, hints) on stderr, so stdout stays parseable. */
  note(line: string): void;
}

export function cliOutput(json: boolean): CliOutput {
  return {
    json,
    result: (data, human) => {
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
    },
    note: (line) => process.stderr.write(`${line}\n`),
  };
}

/** A column of a table: its heading and how a row shows in it. */
export interface Column<T> {
  heading: string;
  cell: (row: T) => string;
  /** Longer cells are cut to this many characters, ending in `…`. */
  maxWidth?: number;
}

/** Rows as a plain table with a heading line, columns padded to their widest cell. */
export function table<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((row) =>
    columns.map((column) => cut(printable(column.cell(row)), column.maxWidth)),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.heading.length, ...cells.map((line) => line[i].length)),
  );
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.heading)), ...cells.map(render)].join('\n');
}

/** `label  value` lines, labels padded; a multi-line value is indented under its label. */
export function fields(entries: ReadonlyArray<readonly [label: string, value: string]>): string {
  const width = Math.max(...entries.map(([label]) => label.length));
  return entries
    .map(([label, value]) => {
      const [first, ...rest] = value.split('\n').map(printable);
      const indent = ' '.repeat(width + 2);
      return [`${label.padEnd(width)}  ${first}`, ...rest.map((line) => indent + line)].join('\n');
    })
    .join('\n');
}

/** A time as `2026-12-01T15:20:11Z`, or `-`. */
export function time(value: Date | null | undefined): string {
  return value ? value.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

/**
 * Text from the database (run ids, errors, bodies: what Zapier or anyone with a signed token
 * sent) shown on a terminal: control characters and the like are escaped, so a value can neither
 * break a table line nor send the terminal escape sequences.
 */
export function printable(text: string): string {
  return safeForLog(text, Number.MAX_SAFE_INTEGER);
}

function cut(text: string, maxWidth: number | undefined): string {
  if (maxWidth === undefined || text.length <= maxWidth) return text;
  return `${text.slice(0, maxWidth - 1)}…`;
}
