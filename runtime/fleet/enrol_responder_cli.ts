/**
 * The enrolment responder as a command, for tests and for people without a cloud:
 *
 *   deno task fleet enrol …   (the same; --broker or NVR_MQTT_URL stand for --url)
 *   deno run -A runtime/fleet/enrol_responder_cli.ts \
 *     --url mqtts://mqtt.example.com:8883 --ca ca.crt --cert fleet-enrol.crt --key fleet-enrol.key \
 *     --ca-key ca.key --allow allow-list.txt --state enrolled.json [--days 825]
 *
 * It logs in with its own certificate (CN fleet-enrol, see firmware/broker/acl), signs with the
 * fleet CA (--ca, --ca-key: PKCS#8 P-256), answers the boxes on the allow-list (one deviceId or
 * board serial a line, optionally a claim token after it) and keeps what it enrolled in --state.
 * Stops on SIGINT/SIGTERM. Its output is one JSON object a line (the log) either way; `--json`
 * (taken by every `deno task fleet` subcommand) also makes a usage error a JSON object on stdout.
 */
import { parseArgs } from "node:util";
import { createLogger } from "../lib/log.ts";
import { redactUrl } from "../lib/redact_url.ts";
import { parseAllowList, startEnrolResponder } from "./enrol_responder.ts";

export async function main(args: string[] = Deno.args): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      broker: { type: "string" },
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "ca-key": { type: "string" },
      allow: { type: "string" },
      state: { type: "string" },
      days: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const url = values.url ?? values.broker ?? Deno.env.get("NVR_MQTT_URL");
  const missing = [
    ...(url ? [] : ["url"]),
    ...["ca", "cert", "key", "ca-key", "allow", "state"].filter((k) =>
      !(values as Record<string, unknown>)[k]
    ),
  ];
  if (missing.length) {
    const error = `enrol: missing ${
      missing.map((k) => `--${k}`).join(", ")
    }; see the top of ${import.meta.url}`;
    if (values.json) console.log(JSON.stringify({ error, missing: missing.map((k) => `--${k}`) }));
    else console.error(error);
    return 64;
  }
  const read = (f: string) => Deno.readTextFile(f);
  const log = createLogger({ level: "info", fields: { module: "enrol-responder" } });
  const days = values.days ? Number(values.days) : undefined;
  const caPem = await read(values.ca!);
  const running = await startEnrolResponder(url!, {
    ca: caPem,
    cert: await read(values.cert!),
    key: await read(values.key!),
  }, {
    ca: { certPem: caPem, keyPem: await read(values["ca-key"]!) },
    allow: parseAllowList(await read(values.allow!), values.allow!),
    stateFile: values.state!,
    ...(days ? { days } : {}),
    log,
  });
  log.info("answering enrolment requests", { url: redactUrl(url!) });
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => stop.resolve());
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  await stop.promise;
  await running.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
