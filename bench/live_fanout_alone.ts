/**
 * The daemon's live WebSocket path alone (issue 14): Deno.serve over TLS (or plain with
 * `--plain`), playback/live_viewer.ts's serveViewer and a LiveFanout fed the bench's 1080p 15 fps
 * H.265 clip from a timer, with no recorder, no Unix socket and no camera. N viewers read in a
 * child process of their own (raw WebSocket clients that answer pings,
 * bench/live_viewer_reader.ts) and count frames over a window after 3 s to settle. What
 * bench/live_viewers.ts measures through the whole daemon, minus everything before the fan-out:
 * when that bench loses frames and this does not, look upstream of the fan-out.
 *
 *   deno run -A bench/live_fanout_alone.ts [--viewers 8] [--seconds 15] [--plain]
 *
 * Prints one JSON line: frames each viewer got in the window, against the 15 a second expected.
 */
import { LiveFanout, liveTrack } from "../runtime/media/restream/feed.ts";
import { serveViewer } from "../runtime/playback/live_viewer.ts";
import {
  isFirstSliceOfPicture,
  isKeyframeNal,
  isSliceNal,
  parameterSetKind,
  splitAnnexB,
} from "../runtime/media/codec/h26x.ts";
import { makeSelfSignedCertificate } from "../runtime/tls/self_signed.ts";
import { ensureLoopClip } from "../hw-tests/sim/loop_clip.ts";
import { drain, WsCounter } from "./live_viewer_reader.ts";

const FPS = 15;
const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? (Deno.args[i + 1] ?? "") : fallback;
};

if (Deno.args[0] === "--child") {
  // The readers: <port> <viewers> <seconds> <ca file or "plain">.
  const [, port, n, seconds, ca] = Deno.args;
  const counters: WsCounter[] = [];
  for (let i = 0; i < Number(n); i++) {
    const conn = ca === "plain"
      ? await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })
      : await Deno.connectTls({
        hostname: "127.0.0.1",
        port: Number(port),
        caCerts: [await Deno.readTextFile(ca!)],
      });
    await conn.write(new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    let head = "";
    const one = new Uint8Array(1);
    while (!head.endsWith("\r\n\r\n")) {
      if ((await conn.read(one)) === null) throw new Error("closed before the upgrade's answer");
      head += String.fromCharCode(one[0]!);
    }
    const counter = new WsCounter();
    counters.push(counter);
    drain(conn, counter, new Uint8Array(0));
  }
  await new Promise((r) => setTimeout(r, 3_000)); // settle: every viewer past its first GOP
  const start = counters.map((c) => c.binary);
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  console.log(JSON.stringify({ frames: counters.map((c, i) => c.binary - start[i]!) }));
  Deno.exit(0);
}

const VIEWERS = Number(arg("viewers", "8"));
const SECONDS = Number(arg("seconds", "15"));
const PLAIN = Deno.args.includes("--plain");
const clip = await ensureLoopClip(`${Deno.env.get("TMPDIR") ?? "/tmp"}/nvr-bench/clips`, {
  width: 1920,
  height: 1080,
  fps: FPS,
  bitrateKbps: 4000,
  seconds: 4,
});
// The clip's pictures, as the restream would publish them.
const params: { vps?: Uint8Array; sps?: Uint8Array; pps?: Uint8Array } = {};
const frames: { nals: Uint8Array[]; keyframe: boolean; bytes: number }[] = [];
for (const nal of splitAnnexB(await Deno.readFile(clip.path))) {
  const kind = parameterSetKind("h265", nal);
  if (kind) params[kind] = nal;
  if (!isSliceNal("h265", nal)) continue;
  if (isFirstSliceOfPicture("h265", nal) || frames.length === 0) {
    frames.push({ nals: [], keyframe: isKeyframeNal("h265", nal), bytes: 0 });
  }
  const f = frames.at(-1)!;
  f.nals.push(nal);
  f.bytes += nal.length;
}
const track = liveTrack("h265", 90_000, params);
if (!track) throw new Error(`no parameter sets in ${clip.path}`);
const fanout = new LiveFanout();
const ends: string[] = [];
const handler = (req: Request) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  serveViewer(socket, fanout, {
    label: "main",
    onEnd: (reason, byServer, unsentPeak) =>
      ends.push(`${byServer ? "dropped" : "ended"}: ${reason} (unsent peak ${unsentPeak})`),
  });
  return response;
};
const work = await Deno.makeTempDir({ prefix: "nvr-bench-fanout-" });
const cert = await makeSelfSignedCertificate({
  commonName: "bench",
  dnsNames: [],
  ipAddresses: ["127.0.0.1"],
});
await Deno.writeTextFile(`${work}/ca.pem`, cert.certPem);
const server = PLAIN
  ? Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler)
  : Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: cert.certPem, key: cert.keyPem, onListen: () => {} },
    handler,
  );
let published = 0;
const timer = setInterval(() => {
  const f = frames[published % frames.length]!;
  const ts = published * (90_000 / FPS);
  fanout.publish(track, { ...f, ts, duration: 90_000 / FPS, wallMs: Date.now() });
  published++;
}, 1000 / FPS);
try {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--child",
      String(server.addr.port),
      String(VIEWERS),
      String(SECONDS),
      PLAIN ? "plain" : `${work}/ca.pem`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const out = new TextDecoder().decode(child.stdout).trim().split("\n").at(-1) ?? "{}";
  const { frames: got = [] } = JSON.parse(out) as { frames?: number[] };
  console.log(JSON.stringify({
    viewers: VIEWERS,
    tls: !PLAIN,
    expected: FPS * SECONDS,
    frames: got,
    dropped: ends.filter((e) => e.startsWith("dropped")),
  }));
} finally {
  clearInterval(timer);
  await server.shutdown();
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
