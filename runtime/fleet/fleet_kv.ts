/**
 * The part of Deno KV the fleet link uses (the offline queue, the config shadow, command results,
 * the analytics salt). A box passes its own `Deno.Kv` (one SQLite file); the simulator passes a
 * view of one shared store under a per-box key prefix (fleet_console/shared_kv.ts), because each
 * open Deno KV costs a thread and an SQLite database (about 230 KiB a box, measured by
 * bench/fleet_box_memory.ts), which 10,000 simulated boxes in one process cannot afford.
 */

export interface FleetAtomic {
  check(...checks: Deno.AtomicCheck[]): this;
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this;
  delete(key: Deno.KvKey): this;
  commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError>;
}

export interface FleetKv {
  get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>>;
  set(
    key: Deno.KvKey,
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<Deno.KvCommitResult>;
  list<T = unknown>(
    selector: Deno.KvListSelector,
    options?: Deno.KvListOptions,
  ): AsyncIterable<Deno.KvEntry<T>>;
  atomic(): FleetAtomic;
}
