/**
 * `deno task fleet <subcommand>`: the fleet console's command line (issue 19). Every subcommand
 * takes `--json`; the broker comes from `--broker URL` or NVR_MQTT_URL, the registry file from
 * `--db PATH` or NVR_FLEET_DB (default ./fleet-registry.db).
 *
 *   devices [--where key=value]… [--offline-since 10m] [--refresh] [--follow-ms 2000]
 *   tag <selector> add|remove tag[,tag…]     (the operator's labels, kept in the registry)
 *   cmd <selector> <command> [json-args] [--timeout 30s]
 *   config <selector> <file.json> [--timeout 60s]
 *   rollout <selector> <bundle-url> --sha256 H --size N --version V [--waves 1,10,100]
 *           [--halt-percent 5] [--min-boxes 10] [--box-timeout 10m] [--in-flight 100] [--id NAME]
 *   rollout pause|resume|abort <id>
 *   simulate --devices N [--prefix sim] [--install 30s] [--fail-rate 0.2] [--rollback-rate 0.1]
 *            [--seed 1] [--write-inventory FILE]
 *            [--enrol-url mqtts://host:8884 --ca ca.crt --bootstrap USER]  (first boots: serials
 *            <prefix>-<n>, password from NVR_BOOTSTRAP_PASSWORD, then mutual TLS to --broker)
 *   licence issue <device> --key private.jwk [--key-id ID] --max-cameras N --days D [--no-publish]
 *   enrol --ca ca.crt --cert c.crt --key c.key --ca-key ca.key --allow list --state file
 *         (the enrolment responder: runtime/fleet/enrol_responder_cli.ts)
 *
 * A selector is `all`, `id1,id2` (`shop-*`: ids starting with shop-), or `key=value[,key=value]`
 * (e.g. `version=1.2.0,board=rpi4`, `tag=north`). `--inventory FILE` (one `<deviceId> [tag,…]` a
 * line) adds boxes and their tags to the registry first, so exact-topic reads cover boxes this
 * console has not heard from yet.
 */
import { parseArgs } from "node:util";
import { ConsoleError, FleetConsole, redact } from "./console.ts";
import type { Json } from "../fleet/schema.ts";
import { parseSelector, parseTags, Registry, RegistryError } from "./registry.ts";
import { runRollout, setRolloutStatus } from "./rollout.ts";
import { type SimulatedEnrolment, simulateFleet } from "./simulate.ts";
import { issueLicence, readSigningKey } from "./licence_issue.ts";
import { main as enrolMain } from "../fleet/enrol_responder_cli.ts";

const USAGE =
  `usage: deno task fleet <devices|tag|cmd|config|rollout|simulate|licence|enrol> … [--json]
  --broker URL (or NVR_MQTT_URL)   --db PATH (or NVR_FLEET_DB, default ./fleet-registry.db)
  --inventory FILE (one '<deviceId> [tag,tag…]' a line: added to the registry first)
  selector: all | id1,id2 | prefix* | key=value[,key=value] (e.g. version=1.2.0, tag=north)
  devices [--where key=value]… [--offline-since 10m] [--refresh] [--follow-ms 2000]
  tag <selector> add|remove tag[,tag…]
  cmd <selector> <command> [json-args] [--timeout 30s]
  config <selector> <file.json> [--timeout 60s]
  rollout <selector> <bundle-url> --sha256 H --size N --version V [--waves 1,10,100]
          [--halt-percent 5] [--min-boxes 10] [--box-timeout 10m] [--in-flight 100] [--id NAME]
  rollout pause|resume|abort <id>
  simulate --devices N [--prefix sim] [--install 30s] [--fail-rate 0.2] [--rollback-rate 0.1]
           [--seed 1] [--write-inventory FILE]
           [--enrol-url URL --ca ca.crt --bootstrap USER (password: NVR_BOOTSTRAP_PASSWORD)]
  licence issue <device> --key private.jwk [--key-id ID] --max-cameras N --days D [--no-publish]
  enrol --ca ca.crt --cert c.crt --key c.key --ca-key ca.key --allow list --state file [--days N]`;

/** simulate's first-boot flags: the bootstrap listener, the fleet CA, the bootstrap login. */
function simulatedEnrolment(
  values: { "enrol-url"?: string; ca?: string; bootstrap?: string },
): SimulatedEnrolment {
  const password = Deno.env.get("NVR_BOOTSTRAP_PASSWORD");
  if (!values.ca || !values.bootstrap || !password) {
    throw new ConsoleError(
      "simulate --enrol-url: give --ca (the fleet CA), --bootstrap USER and the bootstrap " +
        "password in NVR_BOOTSTRAP_PASSWORD (not on the command line)",
    );
  }
  return {
    url: values["enrol-url"]!,
    caPem: readText(values.ca, "--ca"),
    bootstrap: { username: values.bootstrap, password },
  };
}

/** "30s", "10m", "2h", "500ms" or a number of ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new ConsoleError(`${flag} ${text}: give a duration such as 30s, 10m or 500ms`);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"]!);
}

function readText(path: string, flag: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new ConsoleError(`${flag} ${path}: cannot read it (${(err as Error).message})`);
  }
}

function table(rows: readonly Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? "-")));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (v: string[]) => v.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns), ...cells.map(line)].join("\n");
}

export interface MainOptions {
  /** Stops a long-running subcommand (simulate) as SIGINT does; for tests and embedding. */
  readonly signal?: AbortSignal;
}

export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  // The responder has its own flags (runtime/fleet/enrol_responder_cli.ts).
  if (args[0] === "enrol") return await enrolMain(args.slice(1));
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      broker: { type: "string" },
      db: { type: "string" },
      where: { type: "string", multiple: true },
      "offline-since": { type: "string" },
      refresh: { type: "boolean", default: false },
      "follow-ms": { type: "string" },
      timeout: { type: "string" },
      sha256: { type: "string" },
      size: { type: "string" },
      version: { type: "string" },
      waves: { type: "string" },
      "halt-percent": { type: "string" },
      "min-boxes": { type: "string" },
      "box-timeout": { type: "string" },
      id: { type: "string" },
      devices: { type: "string" },
      prefix: { type: "string" },
      install: { type: "string" },
      "fail-rate": { type: "string" },
      "rollback-rate": { type: "string" },
      "in-flight": { type: "string" },
      seed: { type: "string" },
      key: { type: "string" },
      "key-id": { type: "string" },
      "max-cameras": { type: "string" },
      days: { type: "string" },
      "no-publish": { type: "boolean", default: false },
      inventory: { type: "string" },
      "write-inventory": { type: "string" },
      "enrol-url": { type: "string" },
      ca: { type: "string" },
      bootstrap: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    console.log(USAGE);
    return sub ? 0 : 64;
  }
  const out = (human: string, data: unknown) =>
    console.log(values.json ? JSON.stringify(data, null, 2) : human);
  const broker = values.broker ?? Deno.env.get("NVR_MQTT_URL");
  const dbPath = values.db ?? Deno.env.get("NVR_FLEET_DB") ?? "fleet-registry.db";
  const registry = () => {
    const reg = new Registry(dbPath);
    try {
      if (values.inventory) {
        reg.addInventory(readText(values.inventory, "--inventory"), values.inventory);
      }
    } catch (err) {
      reg.close();
      throw err;
    }
    return reg;
  };

  if (sub === "tag") {
    const [selector = "", action, list = ""] = rest;
    if ((action !== "add" && action !== "remove") || !list) {
      throw new ConsoleError(
        "tag: give `tag <selector> add|remove tag[,tag…]`, e.g. tag all add north",
      );
    }
    const reg = registry();
    try {
      const tags = parseTags(list, "tag");
      const ids = reg.select(parseSelector(selector, values.where ?? [])).map((d) => d.id);
      if (ids.length === 0) {
        throw new ConsoleError(
          `tag: no box matches '${selector}'; see \`deno task fleet devices\``,
        );
      }
      reg.changeTags(ids, action === "add" ? tags : [], action === "remove" ? tags : []);
      const rows = ids.map((id) => ({ id, tags: reg.get(id)?.tags ?? "" }));
      out(table(rows, ["id", "tags"]), rows);
    } finally {
      reg.close();
    }
    return 0;
  }

  if (sub === "rollout" && ["pause", "resume", "abort"].includes(rest[0] ?? "")) {
    const reg = registry();
    try {
      const status = rest[0] === "pause" ? "paused" : rest[0] === "resume" ? "running" : "aborted";
      setRolloutStatus({ registry: reg }, rest[1] ?? "", status);
      out(`rollout ${rest[1]}: ${status}`, { id: rest[1], status });
    } finally {
      reg.close();
    }
    return 0;
  }
  if (!broker) {
    throw new ConsoleError("no broker: give --broker mqtt://host:1883 or set NVR_MQTT_URL");
  }

  if (sub === "simulate") {
    const devices = Number(values.devices ?? "");
    if (!Number.isInteger(devices) || devices < 1) {
      throw new ConsoleError(`--devices ${values.devices}: give the number of boxes, e.g. 100`);
    }
    const fleet = await simulateFleet({
      broker,
      devices,
      ...(values.prefix ? { prefix: values.prefix } : {}),
      ...(values.install ? { installMs: parseDuration(values.install, "--install") } : {}),
      ...(values["fail-rate"] ? { failRate: Number(values["fail-rate"]) } : {}),
      ...(values["rollback-rate"] ? { rollbackRate: Number(values["rollback-rate"]) } : {}),
      ...(values.seed ? { seed: Number(values.seed) } : {}),
      ...(values["enrol-url"] ? { enrol: simulatedEnrolment(values) } : {}),
    });
    if (values["write-inventory"]) {
      await Deno.writeTextFile(
        values["write-inventory"],
        fleet.boxes.map((b) => b.id).join("\n") + "\n",
      );
    }
    await fleet.enrolment();
    const memory = Deno.memoryUsage();
    const enrolled = fleet.boxes.filter((b) => b.enrolment?.state === "enrolled").length;
    const refused = fleet.boxes.filter((b) => b.enrolment?.state === "refused").length;
    if (values["enrol-url"]) {
      out(`${enrolled} boxes enrolled, ${refused} refused (not on the allow-list?)`, {
        enrolled,
        refused,
      });
    }
    out(
      `${devices} simulated boxes connected to ${redact(broker)}; RSS ${
        Math.round(memory.rss / devices / 1024)
      } KiB a box. Ctrl-C stops them.`,
      { devices, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    );
    const stop = Promise.withResolvers<void>();
    const onStop = () => stop.resolve();
    Deno.addSignalListener("SIGINT", onStop);
    options.signal?.addEventListener("abort", onStop, { once: true });
    if (options.signal?.aborted) onStop();
    try {
      await stop.promise;
    } finally {
      Deno.removeSignalListener("SIGINT", onStop);
      options.signal?.removeEventListener("abort", onStop);
      await fleet.stop();
    }
    return 0;
  }

  const reg = registry();
  const fc = await FleetConsole.connect({ broker, registry: reg });
  try {
    switch (sub) {
      case "devices": {
        if (values.refresh) await fc.refresh();
        if (values["follow-ms"]) {
          await new Promise((r) =>
            setTimeout(r, parseDuration(values["follow-ms"]!, "--follow-ms"))
          );
        }
        await fc.settled();
        const selector = {
          ...parseSelector("all", values.where ?? []),
          ...(values["offline-since"]
            ? { offlineForMs: parseDuration(values["offline-since"], "--offline-since") }
            : {}),
        };
        const rows = reg.select(selector);
        // The cameras' hash shortened in the table (the whole one with --json): enough to see a
        // box's cameras change between two looks.
        const shown = rows.map((r) => ({ ...r, cameras: r.camerasHash?.slice(0, 12) ?? null }));
        out(
          table(shown, [
            "id",
            "state",
            "version",
            "slot",
            "board",
            "cameras",
            "health",
            "licence",
            "appliedVersion",
            "lastSeen",
            "tags",
          ]),
          rows,
        );
        return 0;
      }
      case "cmd": {
        const [selector = "", name, argsJson] = rest;
        if (!name) throw new ConsoleError("cmd: give a selector and a command, e.g. cmd all ping");
        let args: Record<string, never> = {};
        if (argsJson) {
          try {
            args = JSON.parse(argsJson);
          } catch (err) {
            throw new ConsoleError(
              `cmd ${name}: the arguments are not JSON: ${(err as Error).message}`,
            );
          }
        }
        await fc.refresh();
        const ids = fc.select(parseSelector(selector, values.where ?? [])).map((d) => d.id);
        const timeout = parseDuration(values.timeout ?? "30s", "--timeout");
        const s = await fc.command(ids, { ...args, cmd: name }, timeout);
        out(
          `${s.requested} boxes: ${s.ok} ok, ${s.failed} failed, ${s.timedOut} no answer\n` +
            table(s.outcomes as unknown as Record<string, unknown>[], ["id", "status", "error"]),
          s,
        );
        return s.ok === s.requested ? 0 : 1;
      }
      case "config": {
        const [selector = "", file] = rest;
        if (!file) throw new ConsoleError("config: give a selector and a JSON file");
        const config = JSON.parse(await Deno.readTextFile(file));
        await fc.refresh();
        const ids = fc.select(parseSelector(selector, values.where ?? [])).map((d) => d.id);
        const s = await fc.config(ids, config, parseDuration(values.timeout ?? "60s", "--timeout"));
        out(
          `version ${s.version}: ${s.converged}/${s.requested} applied, ${s.rejected} rejected, ` +
            `${s.pending} pending (they apply it when they connect)\n` +
            table(s.outcomes, ["id", "status", "error"]),
          s,
        );
        return s.rejected === 0 ? 0 : 1;
      }
      case "rollout": {
        const [selector = "", url] = rest;
        if (!url || !values.sha256 || !values.size || !values.version) {
          throw new ConsoleError(
            "rollout: give a selector, the bundle URL, --sha256, --size and --version",
          );
        }
        await fc.refresh();
        const ids = fc.select(parseSelector(selector, values.where ?? [])).map((d) => d.id);
        const id = values.id ?? `rollout-${values.version}-${Date.now().toString(36)}`;
        const report = await runRollout(fc, ids, {
          id,
          url,
          sha256: values.sha256,
          size: Number(values.size),
          version: values.version,
          ...(values.waves ? { waves: values.waves.split(",").map(Number) } : {}),
          ...(values["halt-percent"] ? { haltPercent: Number(values["halt-percent"]) } : {}),
          ...(values["min-boxes"] ? { minBoxes: Number(values["min-boxes"]) } : {}),
          ...(values["in-flight"] ? { maxInFlight: Number(values["in-flight"]) } : {}),
          ...(values["box-timeout"]
            ? { boxTimeoutMs: parseDuration(values["box-timeout"], "--box-timeout") }
            : {}),
        }, (line) => values.json || console.error(`${id}: ${line}`));
        out(
          `rollout ${id}: ${report.status}; ` +
            Object.entries(report.counts).map(([k, v]) => `${k} ${v}`).join(", ") + "\n" +
            table(report.outcomes as unknown as Record<string, unknown>[], [
              "id",
              "wave",
              "outcome",
              "reason",
            ]),
          report,
        );
        return report.status === "done" ? 0 : 1;
      }
      case "licence": {
        const [action, id] = rest;
        if (action !== "issue" || !id || !values.key || !values["max-cameras"] || !values.days) {
          throw new ConsoleError(
            "licence: give `licence issue <device> --key private.jwk --max-cameras N --days D`",
          );
        }
        await fc.refresh([id]);
        const licence = await issueLicence(id, reg.get(id), {
          privateKey: await readSigningKey(values.key),
          ...(values["key-id"] ? { keyId: values["key-id"] } : {}),
          maxCameras: Number(values["max-cameras"]),
          days: Number(values.days),
        });
        if (!values["no-publish"]) await fc.licence(id, licence as unknown as Json);
        out(
          JSON.stringify(licence) +
            (values["no-publish"]
              ? ""
              : `\npublished to ${id} (retained); its health shows the result`),
          { id, licence, published: !values["no-publish"] },
        );
        return 0;
      }
      default:
        console.error(USAGE);
        return 64;
    }
  } finally {
    await fc.close();
    reg.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    if (err instanceof ConsoleError || err instanceof RegistryError || err instanceof TypeError) {
      console.error(`fleet: ${(err as Error).message}`);
      Deno.exit(64);
    }
    throw err;
  }
}
