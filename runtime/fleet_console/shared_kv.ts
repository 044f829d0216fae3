/**
 * One Deno KV shared by simulated boxes, each seeing only its own keys (issue 19). Deno runs a
 * thread and an SQLite database for every open KV, about 230 KiB of RSS a box measured by
 * bench/fleet_box_memory.ts, four fifths of what a simulated box cost; one store for all of them
 * costs that once. A box's view puts `prefix` before every key it writes, reads, checks or
 * lists, and takes it off the keys it gets back, so the link's queue, config shadow and command
 * results behave as in a store of their own. What differs from a real box: one SQLite writer
 * serves every box (commits of all boxes queue behind each other: slower, never faster), and
 * the store is in memory, so it lasts as long as the simulated fleet (across a box's simulated
 * restarts and reboots, as a box's file lasts across its own), not across processes.
 */
import type { FleetAtomic, FleetKv } from "../fleet/fleet_kv.ts";

export function prefixedKv(kv: Deno.Kv, prefix: Deno.KvKey): FleetKv {
  if (prefix.length === 0) throw new RangeError("prefixedKv: give a non-empty key prefix");
  const inside = (key: Deno.KvKey): Deno.KvKey => [...prefix, ...key];
  const outside = <T>(entry: Deno.KvEntry<T>): Deno.KvEntry<T> => ({
    ...entry,
    key: entry.key.slice(prefix.length),
  });
  return {
    async get<T>(key: Deno.KvKey) {
      const entry = await kv.get<T>(inside(key));
      return { ...entry, key };
    },
    set: (key, value, options) => kv.set(inside(key), value, options),
    async *list<T>(selector: Deno.KvListSelector, options?: Deno.KvListOptions) {
      const s = selector as { prefix?: Deno.KvKey; start?: Deno.KvKey; end?: Deno.KvKey };
      // Deno KV takes a prefix, a prefix with a start or an end, or a start and an end; a
      // range without a prefix stays inside this box's keys because both ends are prefixed.
      const mapped = (s.prefix === undefined ? {} : { prefix: inside(s.prefix) }) as {
        prefix?: Deno.KvKey;
        start?: Deno.KvKey;
        end?: Deno.KvKey;
      };
      if (s.start) mapped.start = inside(s.start);
      if (s.end) mapped.end = inside(s.end);
      if (s.prefix === undefined && (!s.start || !s.end)) {
        throw new RangeError("prefixedKv: list takes a prefix, or a start and an end");
      }
      for await (const entry of kv.list<T>(mapped as Deno.KvListSelector, options)) {
        yield outside(entry);
      }
    },
    atomic() {
      const op = kv.atomic();
      const view: FleetAtomic = {
        check(...checks) {
          op.check(...checks.map((c) => ({ ...c, key: inside(c.key) })));
          return this;
        },
        set(key, value, options) {
          op.set(inside(key), value, options);
          return this;
        },
        delete(key) {
          op.delete(inside(key));
          return this;
        },
        commit: () => op.commit(),
      };
      return view;
    },
  };
}
