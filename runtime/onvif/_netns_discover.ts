/**
 * Run by ws_discovery_test.ts inside a network namespace of its own (unshare --net, loopback up
 * with multicast and a route for 239.0.0.0/8): three virtual cameras answering WS-Discovery, a
 * hostile responder, then discovery by probe and by address scan. Prints one JSON line.
 */
import dgram from "node:dgram";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { discoverCameras } from "./discover.ts";
import { MAX_REPLY_BYTES } from "./ws_discovery.ts";

const small = { codec: "h264", width: 160, height: 120, discovery: true } as const;
await using a = await startVirtualCamera({
  ...small,
  name: "door",
  serial: "A-1",
  model: "SimCam-A",
  user: "admin",
  password: "s3cret",
});
await using b = await startVirtualCamera({
  ...small,
  name: "yard",
  serial: "B-2",
  model: "SimCam-B",
  user: "other",
  password: "pw",
});
await using c = await startVirtualCamera({ ...small, name: "added", serial: "C-3" });

// The hostile one: answers every probe three times, each reply something to refuse.
const hostile = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((r) => hostile.bind(3702, "0.0.0.0", () => r()));
hostile.addMembership("239.255.255.250", "127.0.0.1");
const sentHostile: string[] = [];
hostile.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
  const id = /MessageID>([^<]+)</.exec(new TextDecoder().decode(msg))?.[1] ?? "";
  const head = `<?xml version="1.0"?>`;
  const env = (body: string) =>
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="x" xmlns:d="y">` +
    `<s:Header><a:RelatesTo>${id}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches>${body}` +
    `</d:ProbeMatches></s:Body></s:Envelope>`;
  const match = (xaddrs: string) =>
    `<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:evil</a:Address>` +
    `</a:EndpointReference><d:XAddrs>${xaddrs}</d:XAddrs></d:ProbeMatch>`;
  const laughs = `<!DOCTYPE x [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
    `<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`;
  const replies = [
    head + env(
      match(`http://127.0.0.1:1/onvif/device_service`).repeat(1) +
        `<d:Pad>${"x".repeat(MAX_REPLY_BYTES)}</d:Pad>`,
    ),
    head + laughs + env(match(`http://127.0.0.1:2/&c;`)),
    head + env(match("http://10.1.2.3/onvif/device_service http://[::1]:80/x javascript:alert(1)")),
  ];
  for (const r of replies) {
    sentHostile.push(`${r.length}`);
    hostile.send(new TextEncoder().encode(r), rinfo.port, rinfo.address);
  }
});

const known = [{ url: c.rtspUrl, onvifUrl: c.onvifUrl }];
const creds = { username: "admin", password: "s3cret" };
const probed = await discoverCameras({ ...creds, timeoutMs: 1500 }, known);
const port = (u: string) => Number(new URL(u).port);
const scanned = await discoverCameras({
  ...creds,
  multicast: false,
  range: "127.0.0.1",
  ports: [port(a.onvifUrl), port(b.onvifUrl), port(c.onvifUrl), 9],
  timeoutMs: 1500,
}, known);
await new Promise<void>((r) => hostile.close(() => r()));
console.log(JSON.stringify({
  a: a.onvifUrl,
  b: b.onvifUrl,
  c: c.onvifUrl,
  probed,
  scanned,
  hostileReplies: sentHostile.length,
}));
