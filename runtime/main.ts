/**
 * Composition root: load config, start the daemon, stop it in reverse order on SIGTERM/SIGINT.
 *
 *   deno task start --config FILE     (or NVR_CONFIG=FILE)
 */
import { ConfigError, configPath, loadConfig } from "./config/mod.ts";
import { createLogger } from "./lib/log.ts";
import { type DaemonDeps, startDaemon } from "./app/daemon.ts";
import { systemdNotifier } from "./lib/sd_notify.ts";

/** Runs the daemon until SIGTERM/SIGINT; `extra` deps are for the demo (hw-tests/sim/demo_daemon.ts). */
export async function main(extra: Pick<DaemonDeps, "plugins"> = {}): Promise<number> {
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
  // The provisioning file (provision.file, or NVR_PROVISION_FILE) is read by the daemon.
  // The real clock, judged (app/clock_keeper.ts): a board without RTC records before it is synced.
  const daemon = await startDaemon(config, { ...extra, log, configPath: path, clock: {} });
  // On the console too (stderr: stdout is one JSON log object a line), for the person at the
  // box: compare it with what the browser shows.
  if (daemon.tls) console.error(`https certificate sha256: ${daemon.tls.fingerprint}`);

  // Under systemd (Type=notify): ready once it serves and records; the watchdog ping comes from
  // this event loop, only while the daemon is healthy, so a hung daemon is restarted.
  const notifier = systemdNotifier(env);
  notifier?.notify("READY=1");
  const ping = notifier?.watchdogIntervalMs
    ? setInterval(() => {
      if (daemon.healthy()) notifier.notify("WATCHDOG=1");
      else log.warn("unhealthy: the systemd watchdog is not fed", { module: "daemon" });
    }, notifier.watchdogIntervalMs)
    : undefined;

  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  await stopped.promise;
  log.info("stopping");
  notifier?.notify("STOPPING=1");
  clearInterval(ping);
  await daemon.stop();
  notifier?.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
