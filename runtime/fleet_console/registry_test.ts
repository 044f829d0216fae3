/** The console's registry file: camerasHash from what a box publishes, also in an older file. */
import { assertEquals } from "../testing/assert.ts";
import { DatabaseSync } from "node:sqlite";
import { camerasHash } from "../fingerprint/hash.ts";
import { Registry } from "./registry.ts";

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const fingerprint = {
  board: { model: { value: "rpi4", source: "x" } },
  disks: [],
  network: [],
  cameras: [{ id: "door", serial: { value: "D-1" }, vendor: { value: "V" }, model: null }],
};

Deno.test("registry: camerasHash as the box sent it, else computed from its fingerprint; a file from before it gains the column", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-registry-" });
  try {
    // A registry file written before camerasHash was kept.
    const old = new DatabaseSync(`${dir}/fleet.db`);
    old.exec(`CREATE TABLE devices (
      id TEXT PRIMARY KEY, state TEXT NOT NULL DEFAULT 'unknown', stateJson TEXT,
      bootId TEXT, bdSeq INTEGER, lastSeen INTEGER, offlineSince INTEGER, version TEXT,
      slot TEXT, updateState TEXT, board TEXT, fingerprintHash TEXT, health TEXT, licence TEXT,
      appliedVersion INTEGER, configStatus TEXT, configError TEXT, desiredVersion INTEGER,
      tags TEXT NOT NULL DEFAULT '');
      INSERT INTO devices (id) VALUES ('box-1');`);
    old.close();

    const registry = new Registry(`${dir}/fleet.db`);
    try {
      assertEquals(registry.get("box-1")?.camerasHash, null);
      const sent = "a".repeat(64);
      await registry.ingest(
        "nvr/v1/box-1/fingerprint",
        encode({ seq: 1, ts: 1, fingerprint, camerasHash: sent }),
      );
      assertEquals(registry.get("box-1")?.camerasHash, sent);
      // An older box (no camerasHash), or a value that is not a hash: computed here.
      const computed = await camerasHash({
        cameras: [{ serial: { value: "D-1" }, vendor: { value: "V" }, model: null }],
      });
      await registry.ingest("nvr/v1/box-2/fingerprint", encode({ seq: 1, ts: 1, fingerprint }));
      await registry.ingest(
        "nvr/v1/box-3/fingerprint",
        encode({ seq: 1, ts: 1, fingerprint, camerasHash: "<script>" }),
      );
      assertEquals(registry.get("box-2")?.camerasHash, computed);
      assertEquals(registry.get("box-3")?.camerasHash, computed);
    } finally {
      registry.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("registry: box messages are written without an fsync each; a rollout's write syncs, then NORMAL again; get reads one box", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-registry-" });
  try {
    const registry = new Registry(`${dir}/fleet.db`);
    try {
      const sync = () =>
        (registry.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
      assertEquals(sync(), 1); // NORMAL
      await registry.ingest(
        "nvr/v1/box-1/state",
        encode({ state: "online", bootId: "b1", bdSeq: 1, ts: 1, version: "1.0.0" }),
      );
      registry.add("box-2");
      registry.durable(
        "INSERT INTO rollouts (id, status, spec, outcomes, updatedAt) VALUES (?, 'running', '{}', '[]', ?)",
        "r1",
        1,
      );
      assertEquals(sync(), 1);
      assertEquals(registry.get("box-1")?.state, "online");
      assertEquals(registry.get("box-2")?.state, "unknown");
      assertEquals(registry.get("box-3"), undefined);
      // Reopened: both writes are there.
      registry.close();
      const again = new Registry(`${dir}/fleet.db`);
      assertEquals(again.get("box-1")?.bootId, "b1");
      assertEquals(
        (again.db.prepare("SELECT status FROM rollouts WHERE id = 'r1'").get() as {
          status: string;
        })
          .status,
        "running",
      );
      again.close();
    } catch (err) {
      try {
        registry.close();
      } catch { /* closed already */ }
      throw err;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
