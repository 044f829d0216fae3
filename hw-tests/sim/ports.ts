/** Free TCP ports on the loopback interface, for the virtual cameras and tests. */

/**
 * Returns a TCP port on `hostname` that was free a moment ago (the OS picks it).
 * Another process may grab it before you bind: bind soon, and retry on EADDRINUSE.
 */
export function freePort(hostname = "127.0.0.1"): number {
  return freePorts(1, hostname)[0] ?? 0;
}

/** Returns `count` distinct free TCP ports (all held open while choosing). */
export function freePorts(count: number, hostname = "127.0.0.1"): number[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`freePorts(count): count must be a non-negative integer, got ${count}`);
  }
  const listeners: Deno.TcpListener[] = [];
  try {
    for (let i = 0; i < count; i++) listeners.push(Deno.listen({ hostname, port: 0 }));
    return listeners.map((l) => l.addr.port);
  } finally {
    for (const l of listeners) l.close();
  }
}
