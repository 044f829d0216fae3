/**
 * A recorder worker's start: before its first line it is still loading its modules, which on a slow
 * box (QEMU TCG in the image test: over a minute) takes far longer than the 15 s hang limit that
 * applies once it runs. The pool waits `startMs` for that first line, then `hangMs` between lines.
 * The worker here is a stand-in (slow_worker_fixture.ts) whose silence is set by its camera's id.
 */
import { assertEquals, assertMatch } from "../../testing/assert.ts";
import { memoryLogger } from "../../lib/log.ts";
import { validateConfig } from "../../config/mod.ts";
import type { PlannedCamera } from "../supervisor/recorder_set.ts";
import { WorkerPool } from "./worker_pool.ts";

const FIXTURE = new URL("./slow_worker_fixture.ts", import.meta.url).pathname;

const planned = (id: string): PlannedCamera => ({
  camera: { id, enabled: true } as PlannedCamera["camera"],
  plan: {
    mode: "passthrough",
    codec: "h264",
    encoder: null,
    decoder: null,
    reason: "",
    launch: "",
  },
});

async function withPool(
  id: string,
  limits: { hangMs: number; startMs: number },
  body: (pool: WorkerPool, lost: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-worker-start-" });
  const lost: string[] = [];
  const pool = new WorkerPool([[planned(id)]], {
    config: validateConfig({ storage: { dataDir: `${dir}/data` } }),
    log: memoryLogger("info"),
    onDiskFull: () => Promise.resolve(0),
    onWorkerLost: (_cameras, reason) => lost.push(reason),
    workerMain: FIXTURE,
    ...limits,
  });
  const stop = new AbortController();
  const running = pool.run(stop.signal);
  try {
    await body(pool, lost);
  } finally {
    stop.abort();
    await running;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Polls `ready` every 50 ms until it is true; fails after `ms` naming `what`. */
async function until(what: string, ms: number, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("a recorder process silent for longer than the hang limit while it starts is not killed", async () => {
  // Silent for 3 s at the start, three times the hang limit; before the start limit existed it was
  // killed at the first check after 1 s, again and again, and never recorded (the image test).
  await withPool("delay-3000", { hangMs: 1_000, startMs: 60_000 }, async (pool, lost) => {
    await until(
      "the worker's first status",
      60_000,
      () => pool.cameras()[0]?.state === "recording",
    );
    // Its status lines (every 200 ms) keep it alive under the 1 s hang limit from then on.
    const pid = pool.pids()["delay-3000"];
    await new Promise((r) => setTimeout(r, 1_500));
    assertEquals(lost, [], "no restart");
    assertEquals(pool.pids()["delay-3000"], pid, "the same process");
  });
});

Deno.test("a recorder process that never says a word is killed after the start limit and restarted", async () => {
  await withPool("silent", { hangMs: 1_000, startMs: 2_000 }, async (_pool, lost) => {
    await until("the silent worker killed", 30_000, () => lost.length > 0);
    assertMatch(lost[0]!, /^said nothing for 2 s after it started and was killed$/);
  });
});
