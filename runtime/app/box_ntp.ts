/**
 * The daemon's side of the box's SNTP server (runtime/ntp/): started on `ntp.listen`, answering
 * from the box's clock only while app/clock_keeper.ts believes it, and telling the camera clock
 * check (setNtp "box") whether an address of the box is served.
 *
 * Stratum: 3 when systemd-timesyncd synced the clock (its servers, pool.ntp.org and the like, are
 * mostly stratum 2, and timesyncd does not tell which it used), 10 when the clock is believed only
 * because of an RTC or `clock.trust: "always"` (ntpd's convention for an undisciplined local
 * clock: usable, but ranked below any network source). The root dispersion grows at 15 ppm from
 * the last sync (RFC 5905's PHI) from 10 ms, capped at 1 s so that ntpd's 1.5 s distance limit
 * still lets a camera take the time.
 */
import type { ClockStatus } from "../lib/clock_trust.ts";
import type { Logger } from "../lib/log.ts";
import { type SntpServer, type SntpTime, startSntpServer } from "../ntp/server.ts";

export interface BoxNtp {
  /** Whether a camera told `address` (an address of the box) reaches a listener. */
  serves(address: string): boolean;
  readonly server: SntpServer;
  close(): Promise<void>;
}

/** "0.0.0.0:123", "[::]:123" → hostname and port (validated by config/validate.ts). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const at = listen.lastIndexOf(":");
  return {
    hostname: listen.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(listen.slice(at + 1)),
  };
}

/** What the answers say about the box's clock, from its status now. */
export function sntpTime(status: ClockStatus, nowMs: number): SntpTime {
  if (!status.trusted) return { trusted: false };
  const referenceMs = status.lastSync === null ? nowMs : Date.parse(status.lastSync);
  const ageMs = Math.max(0, nowMs - referenceMs);
  return {
    trusted: true,
    stratum: status.source === "timesyncd" ? 3 : 10,
    refId: "LOCL",
    referenceMs,
    rootDispersionMs: Math.min(1_000, 10 + ageMs * 15e-6),
  };
}

/** Starts the server on every listener; throws naming the one that cannot be bound. */
export function startBoxNtp(deps: {
  readonly listen: readonly string[];
  /** The box's clock; absent: taken as believed (a daemon started without a clock keeper). */
  readonly clock?: () => ClockStatus;
  readonly log: Logger;
  readonly now?: () => number;
}): BoxNtp {
  const now = deps.now ?? Date.now;
  const clock = deps.clock ??
    (() => ({ trusted: true, source: "config", lastSync: null }) as ClockStatus);
  const server = startSntpServer({
    listen: deps.listen.map(parseListen),
    time: () => sntpTime(clock(), now()),
    log: deps.log.child({ module: "ntp" }),
    wall: now,
  });
  const hosts = server.addrs.map((a) => a.hostname);
  return {
    server,
    serves: (address) =>
      hosts.some((h) => h === address || (h === "0.0.0.0" && !address.includes(":")) || h === "::"),
    close: () => server.close(),
  };
}
