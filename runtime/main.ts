/**
 * Composition root: load config, start the daemon, stop it in reverse order on SIGTERM/SIGINT.
 *
 *   deno task start --config FILE     (or NVR_CONFIG=FILE)
 */
import { ConfigError, configPath, loadConfig } from "./config/mod.ts";
import { createLogger } from "./lib/log.ts";
import { startDaemon } from "./app/daemon.ts";

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  let config;
  let path: string | null = null;
  try {
    path = configPath(Deno.args, env);
    config = await loadConfig(path, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78; // EX_CONFIG: systemd does not restart-loop on a config error (see the unit)
    }
    throw err;
  }
  const log = createLogger({ level: config.log.level, fields: { module: "daemon" } });
  log.info("starting", { device: config.device.name, cameras: config.cameras.length });
  const daemon = await startDaemon(config, { log, configPath: path });
  // On the console too (stderr: stdout is one JSON log object a line), for the person at the
  // box: compare it with what the browser shows.
  if (daemon.tls) console.error(`https certificate sha256: ${daemon.tls.fingerprint}`);

  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  await stopped.promise;
  log.info("stopping");
  await daemon.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
