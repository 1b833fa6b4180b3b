import { ZapierMessages } from '../zapier.messages.js';

/** How deep and how large a parsed JSON value the module accepts (option `resultLimits`). */
export interface JsonLimits {
  /** Most levels of nested arrays and objects: `[]` and `{}` are one level, `[[1]]` two. */
  maxDepth: number;
  /** Most values in all, containers and scalars alike (object keys are not counted). */
  maxValues: number;
}

/** Levels above a run's results in a callback body: `{ "data": { "results": … } }`. */
const RESULT_DEPTH_IN_BODY = 2;

/**
 * `resultLimits` measured on a whole callback body: its results sit two levels down (the body,
 * then `data`), so the same result passes or fails on both the callback and the poll path.
 */
export function callbackBodyLimits(resultLimits: JsonLimits): JsonLimits {
  return {
    maxDepth: resultLimits.maxDepth + RESULT_DEPTH_IN_BODY,
    maxValues: resultLimits.maxValues,
  };
}

/**
 * What makes a parsed JSON value exceed the limits, as a message fragment naming `what`, or
 * `undefined` when it fits. Iterative, with an explicit stack, so a value nested deeper than the
 * call stack (which `JSON.stringify`, being recursive, cannot serialise) is measured safely; it
 * stops at the first limit crossed, so a huge value costs no more than the limit.
 */
export function exceedsJsonLimits(
  value: unknown,
  limits: JsonLimits,
  what = 'the value',
): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let values = 1;
  while (stack.length > 0) {
    const current = stack.pop() as { value: unknown; depth: number };
    if (typeof current.value !== 'object' || current.value === null) continue;
    const depth = current.depth + 1;
    if (depth > limits.maxDepth) return ZapierMessages.jsonTooDeep(what, limits.maxDepth);
    const children = Array.isArray(current.value)
      ? (current.value as unknown[])
      : Object.values(current.value);
    values += children.length;
    if (values > limits.maxValues) return ZapierMessages.jsonTooManyValues(what, limits.maxValues);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return undefined;
}
