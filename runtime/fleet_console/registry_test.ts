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
