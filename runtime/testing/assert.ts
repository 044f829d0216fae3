/**
 * Test assertions built on node:assert (JSR's @std/assert is not reachable from here), with the
 * same names as Deno std so tests read the usual way.
 */
import assert from "node:assert/strict";

// Each call passes `message` only when there is one: with @types/node as npm:mqtt brings it in,
// node:assert's message parameter is `string | Error`, not `string | undefined`.
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (message === undefined) assert.deepStrictEqual(actual, expected);
  else assert.deepStrictEqual(actual, expected, message);
}

export function assert_(condition: unknown, message?: string): asserts condition {
  if (message === undefined) assert.ok(condition);
  else assert.ok(condition, message);
}
export { assert_ as assert };

export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  if (message === undefined) assert.match(actual, pattern);
  else assert.match(actual, pattern, message);
}

export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    if (includes) assert.ok(err.message.includes(includes), `"${err.message}" lacks "${includes}"`);
    return err;
  }
  throw new assert.AssertionError({ message: `expected ${type.name} to be thrown` });
}

export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    if (includes) assert.ok(err.message.includes(includes), `"${err.message}" lacks "${includes}"`);
    return err;
  }
  throw new assert.AssertionError({ message: `expected ${type.name} to be rejected` });
}
