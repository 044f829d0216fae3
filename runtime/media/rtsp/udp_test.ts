import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { makeTestStream, startScriptServer } from "../../../hw-tests/sim/rtsp_script_server.ts";
import { RtspError, RtspSession } from "./session.ts";
import { normalHost, parseUdpTransport } from "./udp.ts";
import type { AudioAccessUnit, VideoAccessUnit } from "../codec/types.ts";

/** Plays until `check` holds (bounded by `timeoutMs`), then stops; returns what came. */
async function playUntil(
  session: RtspSession,
  check: (video: VideoAccessUnit[]) => boolean,
  timeoutMs = 20_000,
  during?: () => Promise<void>,
): Promise<{ video: VideoAccessUnit[]; audio: AudioAccessUnit[] }> {
  const video: VideoAccessUnit[] = [];
  const audio: AudioAccessUnit[] = [];
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), timeoutMs);
  const poll = setInterval(() => {
    if (check(video)) stop.abort();
  }, 20);
  const side = during?.();
  try {
    await session.play({
      onVideo: (au) => video.push({ ...au, nals: au.nals.map((n) => n.slice()) }),
      onAudio: (au) => audio.push(au),
    }, stop.signal);
    await side;
  } finally {
    clearTimeout(deadline);
    clearInterval(poll);
  }
  return { video, audio };
}

Deno.test("RTSP over UDP: H.264 + AAC from a virtual camera arrive whole, in order, from a port pair", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", audio: "aac", fps: 15 });
  await using session = await RtspSession.open({ url: cam.rtspUrl, audio: true, transport: "udp" });
  assertEquals(session.udpPorts.length, 2, "one port pair per track");
  assert(session.udpPorts.every((p) => p % 2 === 0), `even RTP ports: ${session.udpPorts}`);
  const got = await playUntil(session, (v) => new Set(v.map((u) => u.timestamp)).size >= 45);
  const units = got.video;
  assert(new Set(units.map((u) => u.timestamp)).size >= 45, `${units.length} units in time`);
  assert(units[0]?.keyframe, "the first picture is a keyframe");
  assertEquals(units.filter((u) => u.damaged).length, 0, "no damaged picture");
  assertEquals(session.counters.packetsLost, 0);
  assertEquals(session.counters.foreign, 0);
  // 90 kHz at 15 fps: pictures 6000 apart, in order, none missing (a timestamp may repeat: the
  // camera can send a picture's parameter sets as a unit of their own).
  const steps = units.slice(1).map((u, i) => u.timestamp - units[i]!.timestamp);
  assert(steps.every((s) => s === 6000 || s === 0), `steps: ${[...new Set(steps)].join(",")}`);
  const times = new Set(units.map((u) => u.timestamp));
  assertEquals((units.at(-1)!.timestamp - units[0]!.timestamp) / 6000 + 1, times.size);
  assert(got.audio.length > 10, `${got.audio.length} AAC frames`);
});

Deno.test("attack: RTP packets injected from another address are dropped", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", fps: 15 });
  await using session = await RtspSession.open({ url: cam.rtspUrl, transport: "udp" });
  const [rtpPort] = session.udpPorts;
  assert(rtpPort !== undefined);
  // A forged keyframe (H.264 IDR, marker set) carrying a pattern the camera never sends, from
  // another host on the LAN (127.0.0.2) and from another port of the camera's own address.
  const forged = (seq: number) => {
    const p = new Uint8Array(12 + 200).fill(0xa5);
    p.set([0x80, 0x80 | 96, seq >> 8, seq & 0xff, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef], 0);
    p[12] = 0x65;
    return p;
  };
  const senders = [
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.2", port: 0 }),
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  ];
  const sent = { count: 0 };
  const inject = async () => {
    for (let i = 0; i < 200; i++) {
      for (const s of senders) {
        await s.send(forged(i * 7), { transport: "udp", hostname: "127.0.0.1", port: rtpPort });
        await s.send(forged(i * 7 + 1), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: rtpPort + 1,
        });
        sent.count += 2;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    const got = await playUntil(
      session,
      (v) => v.length >= 30 && sent.count >= 800,
      30_000,
      inject,
    );
    assertEquals(sent.count, 800);
    const pattern = (n: Uint8Array) => n.length > 8 && n.slice(1, 9).every((b) => b === 0xa5);
    assertEquals(got.video.flatMap((u) => u.nals).filter(pattern).length, 0, "nothing forged");
    assert(got.video.length >= 30, `${got.video.length} pictures still came`);
    assertEquals(got.video.filter((u) => u.damaged).length, 0, "the camera's pictures are whole");
    assertEquals(session.counters.packetsLost, 0, "no gap from forged sequence numbers");
    // Datagrams on loopback are not lost: every forged one was seen and dropped.
    assertEquals(session.counters.foreign, 800);
  } finally {
    for (const s of senders) s.close();
  }
});

Deno.test("RTSP over UDP: a camera that offers only TCP gets an error that says to use tcp", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await makeTestStream("h264", {
      width: 160,
      height: 120,
      fps: 10,
      seconds: 1,
      dir,
    });
    await using srv = await startScriptServer({
      codec: "h264",
      scenes: [{ kind: "video", file, fps: 10 }],
    });
    const err = await assertRejects(
      () => RtspSession.open({ url: srv.url, transport: "udp" }),
      RtspError,
    );
    assertMatch(err.message, /SETUP answered 461.*cameras\[\]\.transport to "tcp"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseUdpTransport: server ports, source, and what is missing or wrong", () => {
  assertEquals(
    parseUdpTransport("RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1"),
    { serverPorts: [6970, 6971], source: null },
  );
  assertEquals(parseUdpTransport("RTP/AVP;unicast;source=10.0.0.9;server_port=7000"), {
    serverPorts: [7000, 7001],
    source: "10.0.0.9",
  });
  assertEquals(parseUdpTransport("RTP/AVP;unicast;server_port=0-99999"), {
    serverPorts: null,
    source: null,
  });
  assertEquals(parseUdpTransport("RTP/AVP;unicast"), { serverPorts: null, source: null });
  assertEquals(
    [normalHost("[::1]"), normalHost("::FFFF:10.0.0.9"), normalHost("10.0.0.9")],
    ["::1", "10.0.0.9", "10.0.0.9"],
  );
});
