/**
 * A stand-in for class-transformer, which is not installed here, handed to Nest's own
 * `ValidationPipe` through its `transformerPackage` option: everything else in the pipe (and
 * class-validator's `validate`) is the real thing. It builds the DTO instances the validator
 * needs, following each class's static `nested` map the way `@Type()` guides `plainToInstance`.
 *
 * It copies only the top level of each object (`Object.assign`), where class-transformer deep
 * copies every value, results included; so it is cheaper than the real package and the peer
 * measured with it is, if anything, a little faster than the one a user would run.
 */
import type { Type, ValidationPipeOptions } from '@nestjs/common';

type TransformerPackage = NonNullable<ValidationPipeOptions['transformerPackage']>;

type DtoClass = Type<unknown> & { nested?: Record<string, DtoClass> };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

function toInstance(cls: DtoClass, plain: unknown): unknown {
  if (Array.isArray(plain)) return plain.map((item) => toInstance(cls, item));
  if (!isObject(plain)) return plain;
  const instance = Object.assign(new cls() as object, plain) as Record<string, unknown>;
  for (const [key, nested] of Object.entries(cls.nested ?? {})) {
    if (isObject(instance[key])) instance[key] = toInstance(nested, instance[key]);
  }
  return instance;
}

/** What `ValidationPipe` calls on its transformer package. */
export const peerTransformerPackage: TransformerPackage = {
  plainToInstance: <T>(cls: Type<T>, plain: unknown) => toInstance(cls, plain) as T | T[],
  classToPlain: (object: unknown) => ({ ...(object as Record<string, unknown>) }),
};
