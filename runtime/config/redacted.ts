import { REDACTED } from "../lib/redact_url.ts";

export { REDACTED };

/**
 * Paths (as config keys, e.g. "cameras[0].password") of every string holding the marker, in
 * document order. Walked with a stack of its own, not by recursion: a payload nested 100 000 deep
 * (well within 256 KiB) would overflow the call stack; paths are built only for the strings found.
 */
export function redactedKeys(value: unknown): string[] {
  interface Step {
    readonly value: unknown;
    readonly parent: Step | null;
    readonly key: string | number | null;
  }
  const found: string[] = [];
  const stack: Step[] = [{ value, parent: null, key: null }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    const v = step.value;
    if (typeof v === "string") {
      if (v.includes(REDACTED) || v.includes(encodeURIComponent(REDACTED))) {
        found.push(pathOf(step) || "(top level)");
      }
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: step, key: i });
    } else if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        stack.push({ value: child, parent: step, key });
      }
    }
  }
  return found;

  function pathOf(step: Step): string {
    const parts: string[] = [];
    for (let s: Step | null = step; s && s.key !== null; s = s.parent) {
      parts.push(
        typeof s.key === "number" ? `[${s.key}]` : s.parent?.key === null ? s.key : `.${s.key}`,
      );
    }
    return parts.reverse().join("");
  }
}
