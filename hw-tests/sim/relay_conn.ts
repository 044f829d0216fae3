/**
 * One relayed connection of the loopback relays in this folder (tls_relay.ts, rtsp_counter.ts):
 * connects to `target` on 127.0.0.1, copies bytes both ways (the client's through `inbound` when
 * given) until either side ends, then closes both. `open` holds the connections while they live,
 * so the relay's close can end them. Never throws: a side going away ends the relay.
 */
export async function relayTo(
  client: Deno.Conn,
  target: number,
  open: Set<Deno.Conn>,
  inbound?: TransformStream<Uint8Array, Uint8Array>,
): Promise<void> {
  let server: Deno.Conn | null = null;
  try {
    server = await Deno.connect({ hostname: "127.0.0.1", port: target });
    open.add(server);
    const up = inbound ? client.readable.pipeThrough(inbound) : client.readable;
    await Promise.all([up.pipeTo(server.writable), server.readable.pipeTo(client.writable)]);
  } catch {
    /* either side went away */
  } finally {
    for (const c of [client, server]) {
      if (c === null) continue;
      open.delete(c);
      try {
        c.close();
      } catch { /* already closed by pipeTo */ }
    }
  }
}
