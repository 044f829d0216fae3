/**
 * The console's registry of boxes: a SQLite file (node:sqlite), fed by the messages boxes
 * publish (state, fingerprint, health, config/reported), whether read from their exact retained
 * topics or live through (shared) subscriptions. State messages are folded with the protocol's
 * stateSupersedes, so a late Will never marks a box offline that came back.
 */
import { DatabaseSync } from "node:sqlite";
import { camerasHashOfData, fingerprintHash } from "../fingerprint/hash.ts";
import type { Fingerprint } from "../fingerprint/types.ts";
import {
  DEVICE_ID_PATTERN,
  type StateMessage,
  stateSupersedes,
  TOPIC_ROOT,
} from "../fleet/schema.ts";

export interface DeviceRow {
  readonly id: string;
  /** "online" | "offline" | "unknown" (never seen a state). */
  readonly state: string;
  readonly bootId: string | null;
  readonly bdSeq: number | null;
  /** Last message of any kind from the box (ms since the epoch, console clock). */
  readonly lastSeen: number | null;
  /** When it went offline (console clock); null while online. */
  readonly offlineSince: number | null;
  readonly version: string | null;
  readonly slot: string | null;
  readonly updateState: string | null;
  readonly board: string | null;
  readonly fingerprintHash: string | null;
  /**
   * The cameras' identities hashed (the box's `camerasHash`, else computed from its fingerprint):
   * a new value means a camera was swapped, added or went dark (docs/fleet-data.md).
   */
  readonly camerasHash: string | null;
  /** A line: e.g. "cameras 3/4 recording". */
  readonly health: string | null;
  readonly licence: string | null;
  readonly appliedVersion: number | null;
  readonly configStatus: string | null;
  readonly configError: string | null;
  /** Highest config/desired version this console published to the box. */
  readonly desiredVersion: number | null;
  readonly tags: string;
}

const COLUMNS: readonly (keyof DeviceRow)[] = [
  "id",
  "state",
  "bootId",
  "bdSeq",
  "lastSeen",
  "offlineSince",
  "version",
  "slot",
  "updateState",
  "board",
  "fingerprintHash",
  "camerasHash",
  "health",
  "licence",
  "appliedVersion",
  "configStatus",
  "configError",
  "desiredVersion",
  "tags",
];

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

const decoder = new TextDecoder();

export class Registry {
  readonly db: DatabaseSync;
  readonly #now: () => number;
  /** The last state message per box, for stateSupersedes (kept in the table as JSON too). */

  constructor(path: string, now: () => number = Date.now) {
    this.db = new DatabaseSync(path);
    this.#now = now;
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY, state TEXT NOT NULL DEFAULT 'unknown', stateJson TEXT,
        bootId TEXT, bdSeq INTEGER, lastSeen INTEGER, offlineSince INTEGER, version TEXT,
        slot TEXT, updateState TEXT, board TEXT, fingerprintHash TEXT, health TEXT, licence TEXT,
        appliedVersion INTEGER, configStatus TEXT, configError TEXT, desiredVersion INTEGER,
        tags TEXT NOT NULL DEFAULT '', camerasHash TEXT);
      CREATE TABLE IF NOT EXISTS rollouts (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, spec TEXT NOT NULL, outcomes TEXT NOT NULL,
        updatedAt INTEGER NOT NULL);
    `);
    // A registry file from before camerasHash was kept: add the column.
    const columns = this.db.prepare("PRAGMA table_info(devices)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "camerasHash")) {
      this.db.exec("ALTER TABLE devices ADD COLUMN camerasHash TEXT");
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * Runs one write that must survive a power cut of the console's machine (a rollout's status
   * and outcomes), with the WAL synced at its commit, which also makes every earlier write
   * durable. The boxes' own messages are written without that sync (synchronous NORMAL: an
   * fsync per message was 2 ms of the console's event loop, and with 1000 boxes churning the
   * console fell behind); a power cut may take back the last of them, and `devices --refresh`
   * reads them again from the broker's retained messages.
   */
  durable(sql: string, ...params: (string | number | null)[]): void {
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      this.db.prepare(sql).run(...params);
    } finally {
      this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  #ensure(id: string): void {
    this.db.prepare("INSERT OR IGNORE INTO devices (id) VALUES (?)").run(id);
  }

  #set(id: string, fields: Record<string, string | number | null>): void {
    this.#ensure(id);
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE devices SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`)
      .run(...keys.map((k) => fields[k] ?? null), id);
  }

  /** Adds a box by id (e.g. from an inventory), so exact-topic reads cover it. */
  add(id: string): void {
    if (!DEVICE_ID_PATTERN.test(id)) {
      throw new RegistryError(
        `'${id}' is not a deviceId (letters, digits, _.:- up to 128, first a letter or digit)`,
      );
    }
    this.#ensure(id);
  }

  /**
   * Reads an inventory (one box a line: `<deviceId> [tag,tag…]`, `#` starts a comment) into the
   * registry: every box is added, and a line with tags sets that box's tags (the operator's
   * labels: they live here, never on the box). Returns the ids. Throws naming the line.
   */
  addInventory(text: string, source = "inventory"): string[] {
    const entries: { id: string; tags?: string[] }[] = [];
    for (const [i, raw] of text.split("\n").entries()) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      const [id = "", tags, extra] = line.split(/\s+/);
      if (extra !== undefined || !DEVICE_ID_PATTERN.test(id)) {
        throw new RegistryError(
          `${source} line ${i + 1}: '${raw.trim()}': give a deviceId, then optionally tags ` +
            "separated by commas (e.g. 'nvr-0001 shop,north')",
        );
      }
      entries.push({ id, ...(tags ? { tags: parseTags(tags, `${source} line ${i + 1}`) } : {}) });
    }
    this.db.exec("BEGIN");
    try {
      for (const e of entries) {
        this.#ensure(e.id);
        if (e.tags) this.setTags(e.id, e.tags);
      }
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
    return entries.map((e) => e.id);
  }

  /** One message from a box's topic; returns the device id it was about, or null. */
  async ingest(topic: string, payload: Uint8Array): Promise<string | null> {
    const parts = topic.split("/");
    if (parts.length < 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return null;
    const id = parts[2]!;
    const rest = parts.slice(3).join("/");
    if (payload.byteLength === 0) return null;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(decoder.decode(payload));
    } catch {
      return null; // snapshot bytes or garbage: not registry material
    }
    if (typeof json !== "object" || json === null) return null;
    const now = this.#now();
    switch (rest) {
      case "state":
        this.#state(id, json as unknown as StateMessage, now);
        return id;
      case "fingerprint": {
        const fp = json.fingerprint as Fingerprint | undefined;
        if (!fp || typeof fp !== "object") return id;
        const model = (fp.board as { model?: { value?: string } } | undefined)?.model?.value;
        this.#set(id, {
          board: typeof model === "string" ? model : null,
          fingerprintHash: await Promise.resolve().then(() => fingerprintHash(fp)).catch(() =>
            null
          ),
          camerasHash:
            typeof json.camerasHash === "string" && /^[0-9a-f]{64}$/.test(json.camerasHash)
              ? json.camerasHash
              : await camerasHashOfData(fp),
          lastSeen: now,
        });
        return id;
      }
      case "health": {
        const licence = json.licence as { state?: string } | null | undefined;
        this.#set(id, {
          health: healthSummary(json.health),
          licence: typeof licence?.state === "string" ? licence.state : null,
          lastSeen: now,
        });
        return id;
      }
      case "config/reported": {
        const applied = json.appliedVersion ?? json.runningVersion;
        this.#set(id, {
          appliedVersion: typeof applied === "number" ? applied : null,
          configStatus: typeof json.status === "string" ? json.status : null,
          configError: typeof json.error === "string" ? json.error : null,
          lastSeen: now,
        });
        return id;
      }
      default:
        if (rest.startsWith("cmd-result/") || rest === "events") {
          this.#set(id, { lastSeen: now });
          return id;
        }
        return null;
    }
  }

  #state(id: string, next: StateMessage, now: number): void {
    if (next.state !== "online" && next.state !== "offline") return;
    this.#ensure(id);
    const row = this.db.prepare("SELECT stateJson, state FROM devices WHERE id = ?").get(id) as
      | { stateJson: string | null; state: string }
      | undefined;
    const current = row?.stateJson ? JSON.parse(row.stateJson) as StateMessage : undefined;
    if (!stateSupersedes(current, next)) return;
    const fields: Record<string, string | number | null> = {
      state: next.state,
      stateJson: JSON.stringify(next),
      bootId: next.bootId ?? null,
      bdSeq: next.bdSeq ?? null,
    };
    if (next.state === "online") {
      fields.version = next.version;
      fields.offlineSince = null;
      fields.lastSeen = now;
      if (next.lastUpdate) {
        fields.slot = next.lastUpdate.slot;
        fields.updateState = next.lastUpdate.state;
      }
    } else if (row?.state !== "offline") {
      fields.offlineSince = now;
    }
    this.#set(id, fields);
  }

  /** The console published config/desired `version` to `id`. */
  setDesired(id: string, version: number): void {
    this.#set(id, { desiredVersion: version });
  }

  /** Sets a box's tags (the operator's labels, kept in this registry; `tag=x` selects by them). */
  setTags(id: string, tags: readonly string[]): void {
    for (const t of tags) parseTags(t, `tag of ${id}`);
    this.#set(id, { tags: [...new Set(tags)].sort().join(",") });
  }

  /** Adds and removes tags of the boxes `ids`. */
  changeTags(ids: readonly string[], add: readonly string[], remove: readonly string[]): void {
    for (const id of ids) {
      const now = (this.get(id)?.tags ?? "").split(",").filter((t) => t.length > 0);
      this.setTags(id, [...now.filter((t) => !remove.includes(t)), ...add]);
    }
  }

  /** One box by id (one indexed read, not a scan of every row). */
  get(id: string): DeviceRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS.join(", ")} FROM devices WHERE id = ?`).get(id) as
      | DeviceRow
      | undefined;
  }

  /** Every box, by id. */
  list(): DeviceRow[] {
    return this.db.prepare(`SELECT ${COLUMNS.join(", ")} FROM devices ORDER BY id`)
      .all() as unknown as DeviceRow[];
  }

  /** Boxes matching a selector (selector.ts). */
  select(selector: Selector): DeviceRow[] {
    return this.list().filter((d) => matches(d, selector, this.#now()));
  }
}

/** A tag: letters, digits and _.:- (no commas, no spaces), up to 64. */
const TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Tags separated by commas; throws naming `where` and the bad tag. */
export function parseTags(text: string, where: string): string[] {
  const tags = text.split(",").filter((t) => t.length > 0);
  for (const t of tags) {
    if (!TAG_PATTERN.test(t)) {
      throw new RegistryError(`${where}: tag '${t}': use letters, digits and _.:- (up to 64)`);
    }
  }
  return tags;
}

/** Which boxes: all, some ids, `key=value` filters (every one must hold), offline since. */
export interface Selector {
  readonly ids?: readonly string[];
  /** Ids starting with one of these (from `prefix*` in a selector). */
  readonly prefixes?: readonly string[];
  readonly where?: readonly { key: string; value: string }[];
  /** Offline for at least this long (ms). */
  readonly offlineForMs?: number;
}

/**
 * Reads a selector: `all`, `id1,id2` (an id ending in `*` is a prefix: `shop-*`), or
 * `key=value[,key=value]` (keys of DeviceRow; `tag=x` matches one of the tags). Throws
 * RegistryError naming a bad key.
 */
export function parseSelector(text: string, where: readonly string[] = []): Selector {
  const filters = [...where];
  let ids: string[] | undefined;
  let prefixes: string[] | undefined;
  if (text !== "all" && text !== "") {
    if (text.includes("=")) filters.push(...text.split(","));
    else {
      const names = text.split(",").filter((s) => s.length > 0);
      ids = names.filter((n) => !n.endsWith("*"));
      prefixes = names.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
      if (prefixes.some((p) => p.includes("*"))) {
        throw new RegistryError(`selector ${text}: '*' only at the end of an id (a prefix)`);
      }
    }
  }
  const parsed = filters.map((f) => {
    const at = f.indexOf("=");
    const key = f.slice(0, at);
    if (at < 1 || !(COLUMNS.includes(key as keyof DeviceRow) || key === "tag")) {
      throw new RegistryError(
        `--where ${f}: use key=value with a key of: tag, ${COLUMNS.join(", ")}`,
      );
    }
    return { key, value: f.slice(at + 1) };
  });
  return {
    ...(ids || prefixes ? { ids: ids ?? [], prefixes: prefixes ?? [] } : {}),
    where: parsed,
  };
}

function matches(d: DeviceRow, s: Selector, now: number): boolean {
  if (s.ids || s.prefixes) {
    const named = (s.ids ?? []).includes(d.id) ||
      (s.prefixes ?? []).some((p) => d.id.startsWith(p));
    if (!named) return false;
  }
  for (const { key, value } of s.where ?? []) {
    if (key === "tag") {
      if (!d.tags.split(",").includes(value)) return false;
    } else if (String(d[key as keyof DeviceRow] ?? "") !== value) return false;
  }
  if (s.offlineForMs !== undefined) {
    if (d.state !== "offline" || d.offlineSince === null) return false;
    if (now - d.offlineSince < s.offlineForMs) return false;
  }
  return true;
}

/** A short line from a health sample: cameras recording of total, disk use, or "ok". */
export function healthSummary(health: unknown): string | null {
  if (typeof health !== "object" || health === null) return null;
  const h = health as { cameras?: { state?: string }[]; disks?: { usedPercent?: number }[] };
  const parts: string[] = [];
  if (Array.isArray(h.cameras)) {
    const up = h.cameras.filter((c) => c?.state === "recording").length;
    parts.push(`cameras ${up}/${h.cameras.length}`);
  }
  if (Array.isArray(h.disks) && typeof h.disks[0]?.usedPercent === "number") {
    parts.push(`disk ${Math.round(h.disks[0].usedPercent)}%`);
  }
  return parts.length > 0 ? parts.join(", ") : "reported";
}
