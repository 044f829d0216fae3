/**
 * A reader over untrusted JSON that records one message per bad key, naming the key, the value
 * and what is allowed. Used by validate.ts; knows nothing about the NVR.
 */

export class ObjectReader {
  readonly #path: string;
  readonly #obj: Record<string, unknown>;
  readonly #errors: string[];
  readonly #seen = new Set<string>();

  constructor(path: string, obj: Record<string, unknown>, errors: string[]) {
    this.#path = path;
    this.#obj = obj;
    this.#errors = errors;
  }

  /** Reads `value` as an object at `path`, or records an error and returns null. */
  static of(path: string, value: unknown, errors: string[]): ObjectReader | null {
    if (value === undefined) return new ObjectReader(path, {}, errors);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      errors.push(`${path || "(top level)"}: expected an object, got ${show(value)}`);
      return null;
    }
    return new ObjectReader(path, value as Record<string, unknown>, errors);
  }

  key(name: string): string {
    return this.#path ? `${this.#path}.${name}` : name;
  }

  raw(name: string): unknown {
    this.#seen.add(name);
    return this.#obj[name];
  }

  fail(name: string, message: string): void {
    this.#errors.push(`${this.key(name)}: ${message}`);
  }

  string(name: string, fallback: string, check?: (s: string) => string | null): string {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== "string") {
      this.fail(name, `expected a string, got ${show(value)}`);
      return fallback;
    }
    const problem = check?.(value);
    if (problem) {
      this.fail(name, `${show(value)} ${problem}`);
      return fallback;
    }
    return value;
  }

  nullableString(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") {
      this.fail(name, `expected a string or null, got ${show(value)}`);
      return null;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") {
      this.fail(name, `expected true or false, got ${show(value)}`);
      return fallback;
    }
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.fail(name, `expected a whole number from ${min} to ${max}, got ${show(value)}`);
      return fallback;
    }
    if (value < min || value > max) {
      this.fail(name, `${value} is out of range; allowed: ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A whole number from min to max, or null (also when absent). */
  nullableInteger(name: string, min: number, max: number): number | null {
    const value = this.raw(name);
    if (value === undefined || value === null) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail(name, `expected a whole number from ${min} to ${max} or null, got ${show(value)}`);
      return null;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      this.fail(name, `${show(value)} is not allowed; allowed: ${allowed.map(show).join(", ")}`);
      return fallback;
    }
    return value as T;
  }

  /** Records every key that was present but never read: unknown keys are errors, not ignored. */
  rejectUnknown(): void {
    for (const name of Object.keys(this.#obj)) {
      if (!this.#seen.has(name)) {
        const known = [...this.#seen].sort().join(", ");
        this.#errors.push(`${this.key(name)}: unknown key; known keys here: ${known}`);
      }
    }
  }
}

export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}
