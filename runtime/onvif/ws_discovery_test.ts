/**
 * WS-Discovery and the address scan. The network tests run probe and answers inside a network
 * namespace the test makes (unshare --net: only a loopback, multicast on it), never on a real
 * network.
 */
import { runInOwnNetns } from "../testing/netns.ts";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { MAX_REPLY_BYTES, parseProbeMatches, probeMessage } from "./ws_discovery.ts";
import { DiscoverError, type DiscoverResult, parseAddressRange } from "./discover.ts";
import { probeReply } from "../../hw-tests/sim/ws_discovery_responder.ts";

const ID = "urn:uuid:0b7e3c1a-0000-4000-8000-000000000001";
const reply = (xaddrs: string, extra = "") =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">` +
  `<s:Header><a:RelatesTo>${ID}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches>` +
  `<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:cam</a:Address></a:EndpointReference>` +
  `<d:Scopes>onvif://www.onvif.org/name/Front%20door onvif://www.onvif.org/hardware/DS-2CD</d:Scopes>` +
  `<d:XAddrs>${xaddrs}</d:XAddrs></d:ProbeMatch>${extra}</d:ProbeMatches></s:Body></s:Envelope>`;

Deno.test("ProbeMatches: the sender's XAddrs, name and hardware from the scopes", () => {
  const sim = probeReply(probeMessage(ID), {
    hostname: "127.0.0.1",
    deviceUrl: "http://127.0.0.1:8081/onvif/device_service",
    endpoint: "urn:uuid:sim",
    scopes: ["onvif://www.onvif.org/name/cam1"],
  });
  assert(sim, "the virtual camera answers the box's probe");
  assertEquals(parseProbeMatches(sim, "127.0.0.1", ID), [{
    endpoint: "urn:uuid:sim",
    xaddrs: ["http://127.0.0.1:8081/onvif/device_service"],
    scopes: ["onvif://www.onvif.org/name/cam1"],
    name: "cam1",
    hardware: null,
    from: "127.0.0.1",
  }]);
  const m = parseProbeMatches(
    reply("http://192.168.1.20/onvif/device_service http://10.0.0.9/onvif/device_service"),
    "192.168.1.20",
    ID,
  );
  assert(Array.isArray(m));
  assertEquals([m[0]?.xaddrs, m[0]?.name, m[0]?.hardware], [
    ["http://192.168.1.20/onvif/device_service"],
    "Front door",
    "DS-2CD",
  ]);
});

Deno.test("attack: hostile ProbeMatch (huge, entity expansion, bogus XAddrs to other hosts) — bounded, ignored", () => {
  const ignored = (r: ReturnType<typeof parseProbeMatches>) => "ignored" in r ? r.ignored : "";
  const huge = reply("http://192.168.1.20/", `<x>${"A".repeat(MAX_REPLY_BYTES)}</x>`);
  assertMatch(ignored(parseProbeMatches(huge, "192.168.1.20", ID)), /bytes \(at most 16384\)/);
  const laughs = `<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>` +
    reply("http://192.168.1.20/&b;");
  assertMatch(ignored(parseProbeMatches(laughs, "192.168.1.20", ID)), /DOCTYPE/);
  const elsewhere = reply(
    "http://10.1.2.3/onvif/device_service http://user:pw@192.168.1.20/ file:///etc/passwd nope",
  );
  assertMatch(
    ignored(parseProbeMatches(elsewhere, "192.168.1.20", ID)),
    /no XAddr on 192\.168\.1\.20/,
  );
  const unsolicited = reply("http://192.168.1.20/").replace(ID, "urn:uuid:other");
  assertMatch(ignored(parseProbeMatches(unsolicited, "192.168.1.20", ID)), /RelatesTo/);
  assertMatch(
    ignored(parseProbeMatches(new Uint8Array([0xff, 0xfe, 0x3c]), "192.168.1.20", ID)),
    /UTF-8/,
  );
  // Many matches and XAddrs in one reply: only the first few are read.
  const many = reply(
    Array.from({ length: 50 }, () => "http://192.168.1.20/onvif/device_service").join(" "),
    reply("http://192.168.1.20/").replace(
      /^[\s\S]*?<d:ProbeMatches>|<\/d:ProbeMatches>[\s\S]*$/g,
      "",
    )
      .repeat(20),
  );
  const read = parseProbeMatches(many, "192.168.1.20", ID);
  assert(Array.isArray(read));
  assert(read.length <= 4 && read.every((x) => x.xaddrs.length <= 8), "bounded");
});

Deno.test("address ranges: single, first-last, CIDR; bounded, bad ones named", () => {
  assertEquals(parseAddressRange("192.168.1.20"), ["192.168.1.20"]);
  assertEquals(parseAddressRange("10.0.0.254-10.0.1.1"), [
    "10.0.0.254",
    "10.0.0.255",
    "10.0.1.0",
    "10.0.1.1",
  ]);
  assertEquals(parseAddressRange("192.168.7.0/24").length, 254);
  assertEquals(parseAddressRange("192.168.7.9/32"), ["192.168.7.9"]);
  const err = (r: string) => {
    try {
      parseAddressRange(r);
    } catch (e) {
      return e instanceof DiscoverError ? e.message : String(e);
    }
    return "";
  };
  assertMatch(err("10.0.0.0/16"), /65534 addresses; at most 256/);
  assertMatch(err("10.0.0.9-10.0.0.1"), /not an IPv4 address/);
  assertMatch(err("camera.lan"), /not an IPv4 address/);
});

/** Runs _netns_discover.ts in a network namespace of its own, multicast on its loopback. */
function inOwnNetns(): Promise<Record<string, unknown>> {
  return runInOwnNetns(new URL("./_netns_discover.ts", import.meta.url), {
    setup: "ip link set lo multicast on && ip route add 239.0.0.0/8 dev lo",
  });
}

Deno.test("discovery in a network namespace: probe and scan list the cameras not yet added, with vendor, model and whether the credentials work", async () => {
  const r = await inOwnNetns() as {
    a: string;
    b: string;
    c: string;
    probed: DiscoverResult;
    scanned: DiscoverResult;
    hostileReplies: number;
  };
  const hp = (u: string) => new URL(u).host;
  for (const [how, res] of [["probe", r.probed], ["scan", r.scanned]] as const) {
    assertEquals(res.cameras.map((x) => x.address).sort(), [hp(r.a), hp(r.b)].sort(), how);
    assertEquals(res.alreadyAdded, [hp(r.c)], `${how}: the configured one is left out`);
    const a = res.cameras.find((x) => x.address === hp(r.a));
    const b = res.cameras.find((x) => x.address === hp(r.b));
    assertEquals(
      [a?.deviceUrl, a?.vendor, a?.model, a?.serial, a?.credentials],
      [r.a, "NVR Sim", "SimCam-A", "A-1", "ok"],
      how,
    );
    assertEquals([b?.credentials, b?.vendor], ["refused", null], how);
    assertEquals(a?.via, how === "probe" ? "ws-discovery" : "scan");
  }
  assertEquals(r.probed.cameras.find((x) => x.address === hp(r.b))?.model, "SimCam-B", "scope");
  // The hostile responder's three replies were each refused, none became a camera.
  assert(r.hostileReplies >= 3, "the hostile responder answered");
  const why = r.probed.ignored.join("\n");
  assertMatch(why, /bytes \(at most/);
  assertMatch(why, /DOCTYPE/);
  assertMatch(why, /no XAddr on 127\.0\.0\.1 \(http:\/\/10\.1\.2\.3/);
});

Deno.test("discovery on a chosen interface: with two links, a probe on A finds the camera on A and not the one on B; an interface the box lacks is named with those it has", async () => {
  const r = await runInOwnNetns<{ onA: string[]; onB: string[]; refused: string }>(
    new URL("./_netns_two_links.ts", import.meta.url),
  );
  assertEquals(r.onA, ["10.77.1.2:80"], "interface boxa (by name): only the camera on A");
  assertEquals(r.onB, ["10.77.2.2:80"], "interface 10.77.2.1 (by address): only the camera on B");
  assertEquals(
    r.refused,
    'interface: "wlan9" is not one of the box\'s interfaces or IPv4 addresses; use one of: ' +
      "boxa (10.77.1.1), boxb (10.77.2.1)",
  );
});
