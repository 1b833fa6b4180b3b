import { Injectable } from '@nestjs/common';

/**
 * Which listeners have not returned yet for an event the delivery runner emitted, so that an
 * attempt that runs out of time can name them (`delivery.timeoutMs`). The runner registers each
 * event object before emitting it; the listener methods `ZapierListenerInspector` wrapped count
 * their calls with that very object in and out. Events are keys of a `WeakMap`, so nothing is
 * kept once an event (and every listener still holding it) is gone, however long a listener hangs.
 */
@Injectable()
export class ZapierRunningListeners {
  /** Per event: listener name → calls that have not returned. */
  private readonly calls = new WeakMap<object, Map<string, number>>();

  /** Starts counting the listener calls that receive `event`. */
  watch(event: object): void {
    this.calls.set(event, new Map());
  }

  /** The listeners that received `event` and have not returned, by name. */
  running(event: object): string[] {
    return [...(this.calls.get(event)?.keys() ?? [])];
  }

  /**
   * Wraps a listener so that its calls with a watched event are counted until it returns (or its
   * promise settles). Other calls, such as the host's own events, pass straight through.
   */
  track<A extends unknown[], R>(
    name: string,
    listener: (this: unknown, ...args: A) => R,
  ): (this: unknown, ...args: A) => R {
    const calls = this.calls;
    return function (this: unknown, ...args: A): R {
      const [event] = args;
      const counts = typeof event === 'object' && event !== null ? calls.get(event) : undefined;
      if (!counts) return listener.apply(this, args);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      const done = () => {
        const left = (counts.get(name) ?? 1) - 1;
        if (left > 0) counts.set(name, left);
        else counts.delete(name);
      };
      let result: R;
      try {
        result = listener.apply(this, args);
      } catch (error) {
        done();
        throw error;
      }
      if (isThenable(result)) {
        // A branch of its own, so that a rejection stays the caller's to handle.
        result.then(done, done);
      } else {
        done();
      }
      return result;
    };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
