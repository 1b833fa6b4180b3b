import { InvalidArgumentError } from 'commander';
import ms from 'ms';
import { CliMessages } from './cli.messages.js';

/** Parses `--since 2h` and the like (`ms`' syntax: 90s, 15m, 2h, 7d, 1.5h) to milliseconds. */
export function parseDuration(text: string): number {
  const value = ms(text as ms.StringValue) as number | undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(CliMessages.notADuration(text));
  }
  return value;
}

/** Parses a count such as `--limit 20`. */
export function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(CliMessages.notAPositiveInteger(text));
  }
  return value;
}

/** Checks an http(s) URL option such as `--url` or `--callback-target`. */
export function parseHttpUrl(text: string): string {
  let protocol = '';
  try {
    protocol = new URL(text).protocol;
  } catch {
    // Reported below, as for any other scheme.
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new InvalidArgumentError(CliMessages.notAnHttpUrl(text));
  }
  return text;
}

/** Parses a TCP port; 0 means any free one. */
export function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > 65535) {
    throw new InvalidArgumentError(CliMessages.notAPort(text));
  }
  return value;
}

/** Parses a JSON option value such as `--results '[{"id": 1}]'`. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(CliMessages.notJson(text, (error as Error).message));
  }
}

/** A duration for people, in its largest whole unit: `250ms`, `4m`, `2h`, `3d`. */
export function formatDuration(milliseconds: number): string {
  return ms(Math.max(0, Math.round(milliseconds)));
}
