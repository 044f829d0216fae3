/** Free TCP ports on the loopback interface, for the virtual cameras and tests. */

/**
 * Returns a TCP port on `hostname` that was free a moment ago (the OS picks it).
 * Another process may grab it before you bind: bind soon, and retry on EADDRINUSE.
 */
export function freePort(hostname = "127.0.0.1"): number {
  return freePorts(1, hostname)[0] ?? 0;
}

/**
 * Ports are drawn at random below Linux's ephemeral range (32768–60999 by default): a port the
 * OS hands out for "port 0" is also what outgoing connections (RTSP clients, MQTT, ffmpeg) get,
 * so tests running in parallel kept colliding on it (seen here: EADDRINUSE in CI).
 */
const LOW = 20_000;
const HIGH = 32_000;

/** Returns `count` distinct free TCP ports (all held open while choosing). */
export function freePorts(count: number, hostname = "127.0.0.1"): number[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`freePorts(count): count must be a non-negative integer, got ${count}`);
  }
  const listeners: Deno.TcpListener[] = [];
  try {
    for (let tries = 0; listeners.length < count; tries++) {
      if (tries > 1000) throw new Error(`no free TCP port on ${hostname} in ${LOW}-${HIGH}`);
      const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
      try {
        listeners.push(Deno.listen({ hostname, port }));
      } catch (err) {
        if (!(err instanceof Deno.errors.AddrInUse)) throw err;
      }
    }
    return listeners.map((l) => l.addr.port);
  } finally {
    for (const l of listeners) l.close();
  }
}
