/**
 * `make image-test`: boots the built image of a board in QEMU (TCG, never KVM) with two disks, the
 * image as boot medium and a blank raw "SSD", and user-mode networking only (`restrict=on`: the
 * guest reaches nothing, not even the host; the one way in is a host forward bound to 127.0.0.1).
 * Checks what a person would: the serial console shows the slot GRUB chose, the blank SSD is
 * formatted and mounted, nvr.service starts, /healthz answers through the forward, the slot is
 * marked good; then, in a second boot, that an SSD holding data is left alone and the daemon runs
 * without it (it answers, records nothing).
 * Prints power-on-to-ready time and the image size, and ends with `image-test: N passed, M failed`.
 *
 *   deno run -A firmware/test/image_test.ts --board generic-arm64 [--faults | --all]
 *     [--next-version x.y.z [--broken-version x.y.z-broken]] [--skip-tampered] [--skip-power-cut]
 *     [--skip-fleet-update] [--skip-not-blank] [--skip-broken] [--claim] [--journal-to-console]
 *
 * Two halves, each under 30 min on 2 shared cores (firmware/README.md, "Time budget"):
 * - default (`make image-test`): boot, provisioning and enrolment, claim, a camera recording on the
 *   SSD, a small tampered bundle refused, the fleet update to the next version reaching
 *   `lastUpdate: good` on slot B;
 * - `--faults` (`make image-test-faults`): a power cut during an install, an update whose daemon
 *   cannot start (back to slot A, `rolled-back`), a second boot with an SSD that holds data.
 * `--all` runs both halves in one boot sequence (about an hour here). `--faults --skip-broken
 * --skip-not-blank` is the power cut alone (no --broken-version needed); `--claim` adds the claim
 * and the camera recording (health on MQTT) to the faults half.
 *
 * Run as root after the builds (the Makefile's targets do both; firmware/lib/test_build.sh).
 */

import { startShippedBroker } from "../../runtime/testing/shipped_broker.ts";
import { makeClientCertificate } from "../../runtime/testing/mosquitto.ts";
import { brokerCa } from "../../runtime/testing/test_ca.ts";
import { CloudClient } from "../../runtime/testing/fleet_kit.ts";
import {
  type BoardQemu,
  Checks,
  freePort,
  healthz,
  qemuArgs,
  readText,
  run,
  waitFor,
} from "./vm_util.ts";
import {
  deviceIdOfSerial,
  parseAllowList,
  startEnrolResponder,
} from "../../runtime/fleet/enrol_responder.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { serveBundle } from "../../runtime/update/bundle_server.ts";

const args = [...Deno.args];
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};

const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const all = flag("--all");
const faults = flag("--faults");
/** Which checks run: the default half, the faults half (--faults), or both (--all). */
const run_ = {
  claim: all || !faults || flag("--claim"),
  tampered: (all || !faults) && !flag("--skip-tampered"),
  good: (all || !faults) && !flag("--skip-fleet-update"),
  powerCut: (all || faults) && !flag("--skip-power-cut"),
  broken: (all || faults) && !flag("--skip-broken"),
  notBlank: (all || faults) && !flag("--skip-not-blank"),
};
const testStart = Date.now();
const board = option("--board", "generic-arm64");
/** Power-on to /healthz: measured about 3 min under TCG on 2 shared cores; the bound is generous. */
const BOOT_DEADLINE_MS = Number(option("--boot-timeout-s", "900")) * 1000;
const IMAGE_LIMIT = 400 * 2 ** 20;
/**
 * Where the guest finds the host's services: an address inside QEMU's user-mode network that
 * `guestfwd` hands to a `socat` on the host, which connects to 127.0.0.1 only. No packet for it
 * leaves the QEMU process.
 */
const HOST_IN_GUEST = "10.0.2.100";
/** The board serial QEMU puts in SMBIOS (type 1); the fingerprint and the allow-list use it. */
const SERIAL = "NVRTEST-QEMU-0001";
const BOOTSTRAP_PASSWORD = "image-test-bootstrap-0001";

const checks = new Checks(testStart);
const check = checks.check.bind(checks);

interface Vm {
  child: Deno.ChildProcess;
  serial: string;
  port: number;
  /** Host port forwarded to the guest's 443 (the page and the API). */
  httpsPort: number;
  startedAt: number;
}

async function boot(
  dir: string,
  image: string,
  ssd: string,
  q: BoardQemu,
  tag: string,
  extraDisk: string | null = null,
  guestFwds: readonly { port: number; to: number }[] = [],
) {
  const vars = `${dir}/vars-${tag}.fd`;
  await Deno.copyFile(q.firmwareVars, vars);
  const serial = `${dir}/serial-${tag}.log`;
  await Deno.writeTextFile(serial, "");
  const port = freePort();
  const httpsPort = freePort();
  // Each connection the guest opens to HOST_IN_GUEST:<port> runs one socat to 127.0.0.1:<to>.
  const fwds = guestFwds.map((f) =>
    `,guestfwd=tcp:${HOST_IN_GUEST}:${f.port}-cmd:socat - TCP:127.0.0.1:${f.to}`
  ).join("");
  const args = qemuArgs(q, {
    serial,
    vars,
    image,
    ssd,
    extraDisk,
    smbiosSerial: SERIAL,
    net: `hostfwd=tcp:127.0.0.1:${port}-:80,hostfwd=tcp:127.0.0.1:${httpsPort}-:443${fwds}`,
  });
  const startedAt = Date.now();
  const child = new Deno.Command("nice", { args, stdout: "null", stderr: "piped" })
    .spawn();
  console.log(
    `boot ${tag}: QEMU started, serial console in ${serial}, /healthz forward 127.0.0.1:${port}`,
  );
  return { child, serial, port, httpsPort, startedAt } satisfies Vm;
}

async function stop(vm: Vm): Promise<void> {
  try {
    vm.child.kill("SIGTERM");
  } catch {
    // already gone
  }
  const done = await Promise.race([
    vm.child.status.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 10_000)),
  ]);
  if (!done) vm.child.kill("SIGKILL");
  await vm.child.status;
  await vm.child.stderr.cancel().catch(() => {});
}

/** grubenv from the image's EFI partition (partition 1), read with mtools. */
async function efiGrubenv(image: string): Promise<string> {
  const table = JSON.parse(await run("sfdisk", ["-J", image])) as {
    partitiontable: { partitions: { start: number }[] };
  };
  const start = table.partitiontable.partitions[0]!.start * 512;
  return await run("mtype", ["-i", `${image}@@${start}`, "::/EFI/BOOT/grubenv"]);
}

/**
 * Debugging only (--journal-to-console): this test's copy of the image gets
 * systemd.journald.forward_to_console=1 on its kernel command line, so every log line of the box
 * (there is no login) reaches the serial console file.
 */
async function journalToConsole(image: string): Promise<void> {
  const table = JSON.parse(await run("sfdisk", ["-J", image])) as {
    partitiontable: { partitions: { start: number }[] };
  };
  const efi = `${image}@@${table.partitiontable.partitions[0]!.start * 512}`;
  const cfg = await run("mtype", ["-i", efi, "::/EFI/BOOT/grub.cfg"]);
  const tmp = await Deno.makeTempFile({ suffix: ".cfg" });
  await Deno.writeTextFile(
    tmp,
    cfg.replace('set CMDLINE="', 'set CMDLINE="systemd.journald.forward_to_console=1 '),
  );
  await run("mcopy", ["-o", "-i", efi, tmp, "::/EFI/BOOT/grub.cfg"]);
  await Deno.remove(tmp);
}

/** Byte offset of partition `n` (1-based) of a disk image. */
async function partitionOffset(image: string, n: number): Promise<number> {
  const table = JSON.parse(await run("sfdisk", ["-J", image])) as {
    partitiontable: { partitions: { start: number }[] };
  };
  return table.partitiontable.partitions[n - 1]!.start * 512;
}

/** The fleet side on the host's loopback: the shipped broker, the enrolment responder, a cloud. */
interface FleetSide extends AsyncDisposable {
  readonly cloud: CloudClient;
  readonly deviceId: string;
  readonly caPem: string;
  readonly fwds: { port: number; to: number }[];
  readonly cameraUrlInGuest: string;
  /** nvr-provision.json for the box, as a person writes it onto the boot partition. */
  readonly provisionFile: string;
  /** Bundles over HTTPS (fleet CA) for the next version; null without --next-version. */
  readonly bundles: {
    /** The next version as built (null when this half does not install it). */
    readonly good: BundleRef | null;
    /** Small, its signature altered (smallTamperedBundle). */
    readonly tampered: BundleRef;
    /** A bundle whose daemon cannot start (NVR_TEST_BROKEN_DAEMON=1), when one was built. */
    readonly broken: BundleRef | null;
    /** For the power cut (powerCutBundle), when that runs. */
    readonly powerCut: BundleRef | null;
  } | null;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface BundleRef {
  url: string;
  size: number;
  sha256: string;
}

/**
 * A bundle the test makes itself for `version`, signed with the build's development key as a real
 * one is: `imageMiB` of ext4 holding `fillMiB` of filler, random (incompressible) or the letter A
 * (a squashfs of a few MiB however big the image). Checked on the host with `rauc info --keyring`.
 */
async function testBundle(
  dir: string,
  name: string,
  version: string,
  opts: { imageMiB: number; fillMiB: number; fill: "random" | "pattern" },
): Promise<string> {
  const { raucCompatible } = JSON.parse(
    await Deno.readTextFile(`${repo}/firmware/boards/${board}.json`),
  ) as { raucCompatible: string };
  const work = `${dir}/${name}`;
  await Deno.mkdir(`${work}/content`, { recursive: true });
  await Deno.mkdir(`${work}/files`, { recursive: true });
  {
    using f = await Deno.open(`${work}/files/filler`, { write: true, create: true });
    const chunk = new Uint8Array(2 ** 20).fill(0x41);
    for (let i = 0; i < opts.fillMiB; i++) {
      if (opts.fill === "random") {
        for (let j = 0; j < chunk.length; j += 65536) {
          crypto.getRandomValues(chunk.subarray(j, j + 65536));
        }
      }
      for (let off = 0; off < chunk.length;) off += await f.write(chunk.subarray(off));
    }
  }
  await run("mkfs.ext4", [
    ...["-q", "-F", "-L", "rootfs", "-O", "^has_journal", "-d", `${work}/files`],
    ...[`${work}/content/rootfs.ext4`, `${opts.imageMiB}M`],
  ]);
  await Deno.remove(`${work}/files`, { recursive: true });
  await Deno.writeTextFile(
    `${work}/content/manifest.raucm`,
    `[update]\ncompatible=${raucCompatible}\nversion=${version}\n\n[bundle]\nformat=verity\n\n` +
      "[image.rootfs]\nfilename=rootfs.ext4\n",
  );
  const signed = `${work}/${name}.raucb`;
  await run("rauc", [
    "bundle",
    `--cert=${DEV_CERT}`,
    `--key=${repo}/out/keys/dev-key.pem`,
    `${work}/content`,
    signed,
  ]);
  await Deno.remove(`${work}/content`, { recursive: true });
  await run("rauc", ["info", `--keyring=${DEV_CERT}`, signed]);
  return signed;
}

const DEV_CERT = `${repo}/out/keys/dev-cert.pem`;

/**
 * The tampered bundle: small (an 8 MiB root filesystem holding 3 MiB of random bytes), signed,
 * then one byte of its CMS signature changed. It is checked here first that RAUC on the host
 * refuses it at the signature check ("signature verification failed"), so the box's refusal can
 * only come from there, whatever the size; the full-size copy cost a 350 MiB download (3.5-5.5
 * min) for the same.
 */
async function smallTamperedBundle(dir: string, version: string): Promise<Uint8Array> {
  const signed = await testBundle(dir, "tampered", version, {
    imageMiB: 8,
    fillMiB: 3,
    fill: "random",
  });
  const bytes = await Deno.readFile(signed);
  // The bundle ends with the CMS signature and its size (8 bytes); 200 bytes before the end of the
  // signature is inside the RSA signature value.
  bytes[bytes.length - 8 - 200]! ^= 0x5a;
  const tampered = `${dir}/tampered/tampered.raucb`;
  await Deno.writeFile(tampered, bytes);
  const info = await new Deno.Command("rauc", {
    args: ["info", `--keyring=${DEV_CERT}`, tampered],
    stdout: "null",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(info.stderr);
  if (info.success || !/signature verification failed/.test(said)) {
    throw new Error(
      `the small tampered bundle ${tampered} is not refused at RAUC's signature check on the ` +
        `host (rauc info: ${info.success ? "accepted" : said.trim().split("\n").at(-1)})`,
    );
  }
  return bytes;
}

/**
 * The power cut's bundle: the next version, validly signed, whose 1400 MiB root filesystem is
 * 1300 MiB of the letter A, so its download is a few MiB (seconds, not the 5 min of the full
 * bundle) while RAUC still writes the slot for long enough to be cut in the middle: the guest's
 * writeback puts the slot's superblock on the disk image after the first 100-odd MiB, and the
 * test kills QEMU within a second or two of seeing it.
 */
function powerCutBundle(dir: string, version: string): Promise<string> {
  return testBundle(dir, "power-cut", version, { imageMiB: 1400, fillMiB: 1300, fill: "pattern" });
}

async function startFleetSide(
  dir: string,
  nextVersion: string,
  nextBundle: string | null,
  brokenBundle: string | null,
  powerCut: boolean,
): Promise<FleetSide> {
  const stack = new AsyncDisposableStack();
  try {
    const { broker, enrolPort } = await startShippedBroker(BOOTSTRAP_PASSWORD, {
      serverAltNames: [`IP:${HOST_IN_GUEST}`],
    });
    stack.use(broker);
    const certs = broker.certs!;
    const caPem = await Deno.readTextFile(certs.caFile);
    const tlsOf = async (cn: string) => {
      const c = await makeClientCertificate(certs, cn);
      return {
        ca: caPem,
        cert: await Deno.readTextFile(c.certFile),
        key: await Deno.readTextFile(c.keyFile),
      };
    };
    const responder = await startEnrolResponder(broker.tlsUrl, await tlsOf("fleet-enrol"), {
      ca: await brokerCa(certs),
      allow: parseAllowList(`${SERIAL}\n`),
      stateFile: `${dir}/enrolled.json`,
    });
    stack.defer(() => responder.stop());
    const cloud = stack.use(
      await CloudClient.connect(broker.tlsUrl, ["nvr/v1/#"], await tlsOf("fleet-manager")),
    );
    // A small H.264 camera: the guest records it under TCG emulation.
    const cam = stack.use(
      await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 10 }),
    );
    const rtspPort = Number(new URL(cam.rtspUrl).port);
    const provisionFile = `${dir}/nvr-provision.json`;
    await Deno.writeTextFile(
      provisionFile,
      JSON.stringify(
        {
          fleetUrl: `mqtts://${HOST_IN_GUEST}:8883`,
          enrolUrl: `mqtts://${HOST_IN_GUEST}:8884`,
          caCert: caPem,
          bootstrap: { username: "bootstrap", password: BOOTSTRAP_PASSWORD },
          setupCode: "IMAGE-TEST-0001",
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    // The update over the fleet: the next version's bundle from an HTTPS server whose certificate
    // the fleet CA signed (the broker's, which names HOST_IN_GUEST), and a small bundle with one
    // byte of its signature changed, announced with its own (matching) SHA-256.
    const fwdBundles: { port: number; to: number }[] = [];
    let bundles: FleetSide["bundles"] = null;
    if (nextVersion !== "") {
      const tls = {
        cert: await Deno.readTextFile(certs.serverCertFile),
        key: await Deno.readTextFile(certs.serverKeyFile),
      };
      const serve = async (bytes: Uint8Array, port: number): Promise<BundleRef> => {
        const server = stack.use(serveBundle(bytes, { tls }));
        fwdBundles.push({ port, to: Number(new URL(server.url).port) });
        return {
          url: `https://${HOST_IN_GUEST}:${port}/nvr.raucb`,
          size: bytes.byteLength,
          sha256: await sha256Hex(bytes),
        };
      };
      bundles = {
        good: nextBundle === null ? null : await serve(await Deno.readFile(nextBundle), 8443),
        tampered: await serve(await smallTamperedBundle(dir, nextVersion), 8444),
        broken: brokenBundle === null ? null : await serve(await Deno.readFile(brokenBundle), 8445),
        powerCut: powerCut
          ? await serve(await Deno.readFile(await powerCutBundle(dir, nextVersion)), 8446)
          : null,
      };
    }
    const moved = stack.move();
    return {
      bundles,
      cloud,
      deviceId: await deviceIdOfSerial(SERIAL),
      caPem,
      fwds: [
        { port: 8883, to: broker.tlsPort! },
        { port: 8884, to: enrolPort },
        { port: 8554, to: rtspPort },
        ...fwdBundles,
      ],
      cameraUrlInGuest: `rtsp://${HOST_IN_GUEST}:8554${new URL(cam.rtspUrl).pathname}`,
      provisionFile,
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}

/** The box's HTTPS certificate as it serves it (PEM), read with openssl on the forward. */
async function servedCertificate(port: number): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "nvr.local"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
    new TextDecoder().decode(out.stdout),
  );
  if (!m) throw new Error(`no certificate served on 127.0.0.1:${port}`);
  return m[0] + "\n";
}

async function pemFingerprint(pem: string): Promise<string> {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/**
 * A person at the box: claims it with the setup code from the provisioning file and adds the
 * camera, over HTTPS to the certificate the fleet vouched for (state.httpsFingerprint).
 */
async function claimAndAddCamera(
  vm: Vm,
  certPem: string,
  cameraUrl: string,
): Promise<{ setup: number; login: number; camera: number; detail: string }> {
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  try {
    // The certificate names the box, not 127.0.0.1: connect to the forward by a name it carries.
    const base = `https://127.0.0.1:${vm.httpsPort}`;
    // A connection that fails (the emulated box busy or its service restarting) is tried again
    // for up to a minute; an HTTP answer is taken as it is.
    const post = async (path: string, body: unknown, session: Record<string, string> = {}) => {
      const until = Date.now() + 60_000;
      for (;;) {
        try {
          return await fetch(base + path, {
            method: "POST",
            client,
            headers: { "content-type": "application/json", ...session },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(20_000),
          });
        } catch (err) {
          if (Date.now() > until) throw err;
          await new Promise((r) => setTimeout(r, 3_000));
        }
      }
    };
    const admin = { name: "Image Test", email: "admin@example.org", password: "a long passphrase" };
    const setup = await post("/api/setup", {
      ...admin,
      setupCode: "IMAGE-TEST-0001",
      acceptPrivacyNotice: true,
    });
    const setupText = await setup.text();
    const login = await post("/api/auth/login", { email: admin.email, password: admin.password });
    const { csrfToken } = await login.json().catch(() => ({})) as { csrfToken?: string };
    // The session cookie and the CSRF token, as the page sends them.
    const session = {
      cookie: (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
      "x-csrf-token": csrfToken ?? "",
    };
    // The virtual camera sends H.264; cameras[].codec defaults to h265 (the run of 12:25 added
    // it without a codec and it never recorded: "the camera sends H264 but cameras[].codec says
    // 'h265'").
    const cam = await post(
      "/api/cameras",
      { id: "gate", url: cameraUrl, codec: "h264" },
      session,
    );
    const camText = await cam.text();
    return {
      setup: setup.status,
      login: login.status,
      camera: cam.status,
      detail: `setup: ${setupText.slice(0, 200)} camera: ${camText.slice(0, 200)}`,
    };
  } finally {
    client.close();
  }
}

const serialHas = (vm: Vm, re: RegExp) => async () =>
  re.test(await readText(vm.serial)) ? true : null;

/** How often the serial console shows `re` (e.g. a slot's kernel command line: one per boot). */
async function serialCount(vm: Vm, re: RegExp): Promise<number> {
  return (await readText(vm.serial)).match(new RegExp(re.source, "g"))?.length ?? 0;
}

/** Waits until the serial console shows `re` more than `seen` times. */
const serialMore = (vm: Vm, re: RegExp, seen: number) => async () =>
  (await serialCount(vm, re)) > seen ? true : null;

const SLOT_A = /Kernel command line:[^\n]*rauc\.slot=A/;
const SLOT_B = /Kernel command line:[^\n]*rauc\.slot=B/;

/** Whether the partition at `offset` of `image` starts with an ext4 superblock (magic 0xEF53). */
async function ext4AtStart(image: string, offset: number): Promise<boolean> {
  using f = await Deno.open(image, { read: true });
  await f.seek(offset + 1080, Deno.SeekMode.Start);
  const magic = new Uint8Array(2);
  const n = await f.read(magic);
  return n === 2 && magic[0] === 0x53 && magic[1] === 0xef;
}

/**
 * Prints where an update's time went, from the box's `update-progress` events as the host received
 * them: command to the first event, the transfer (first event to 100 %: the bytes through slirp,
 * socat and TLS), and 100 % to `done` (the box hashing the file, then RAUC checking and writing).
 */
function updateTimes(
  messages: readonly { json: Record<string, unknown> | undefined; at: number }[],
  label: string,
  version: string,
  sentAt: number,
  doneAt: number | null,
): void {
  const seen: { at: number; percent: number; bytes: number }[] = [];
  const visit = (v: unknown, at: number, depth: number): void => {
    if (depth > 4 || v === null || typeof v !== "object") return;
    if (Array.isArray(v)) return v.forEach((x) => visit(x, at, depth + 1));
    const o = v as {
      kind?: unknown;
      detail?: { version?: unknown; percent?: unknown; bytes?: unknown };
    };
    if (o.kind === "update-progress" && o.detail?.version === version) {
      seen.push({ at, percent: Number(o.detail.percent), bytes: Number(o.detail.bytes) });
      return;
    }
    for (const x of Object.values(o)) visit(x, at, depth + 1);
  };
  for (const m of messages) if (m.at >= sentAt && m.json) visit(m.json, m.at, 0);
  const first = seen[0];
  const full = seen.find((x) => x.percent >= 100);
  const s = (ms: number) => (ms / 1000).toFixed(0);
  if (!first) return console.log(`${label}: no update-progress event seen`);
  const end = full ?? seen.at(-1)!;
  const mbs = (end.bytes - first.bytes) / 1e6 / Math.max(1, (end.at - first.at) / 1000);
  console.log(
    `${label}: command to first progress ${s(first.at - sentAt)} s; transfer ${
      s(end.at - first.at)
    } s to ${end.percent} % (${mbs.toFixed(2)} MB/s)` +
      (full && doneAt !== null ? `; 100 % to installed (hash, RAUC) ${s(doneAt - full.at)} s` : ""),
  );
}

/** An error with its causes ("fetch failed" alone says nothing about why). */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 5; i++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" <- ");
}

async function main(): Promise<void> {
  const q = (JSON.parse(await Deno.readTextFile(`${repo}/firmware/boards/${board}.json`)) as {
    qemu?: BoardQemu;
  }).qemu;
  if (!q) {
    throw new Error(
      `firmware/boards/${board}.json has no "qemu" section: it cannot be booted here`,
    );
  }
  const outDir = `${repo}/out/${board}`;
  const images = [...Deno.readDirSync(outDir)].map((e) => e.name).filter((n) =>
    n.endsWith(`-${board}.img.zst`)
  ).sort();
  const zst = images.at(-1);
  if (!zst) {
    throw new Error(`no out/${board}/nvr-*-${board}.img.zst: run make image BOARD=${board} first`);
  }
  const size = (await Deno.stat(`${outDir}/${zst}`)).size;
  console.log(`image: ${zst}, ${(size / 2 ** 20).toFixed(1)} MiB compressed`);
  check("compressed image under 400 MiB", size < IMAGE_LIMIT, `${(size / 2 ** 20).toFixed(1)} MiB`);

  const dir = `${outDir}/test`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const image = `${dir}/boot.img`;
  await run("zstd", ["-q", "-d", "-f", `${outDir}/${zst}`, "-o", image]);
  const ssd = `${dir}/ssd.img`;
  await run("truncate", ["-s", "8G", ssd]);
  if (flag("--journal-to-console")) await journalToConsole(image);

  // --- Boot 1: blank SSD, provisioning file on the boot partition, the fleet on the host -------
  const nextVersion = option("--next-version", "");
  const nextBundle = nextVersion ? `${outDir}/nvr-${nextVersion}-${board}.raucb` : null;
  const brokenVersion = option("--broken-version", "");
  const brokenBundle = brokenVersion ? `${outDir}/nvr-${brokenVersion}-${board}.raucb` : null;
  if (faults && (!nextVersion || (run_.broken && !brokenVersion))) {
    throw new Error(
      "--faults needs --next-version (the power cut) and --broken-version (the failed update): " +
        "run make image-test-faults, which builds both",
    );
  }
  await using fleet = await startFleetSide(
    dir,
    nextVersion,
    run_.good ? nextBundle : null,
    run_.broken ? brokenBundle : null,
    run_.powerCut,
  );
  const efi = `${image}@@${await partitionOffset(image, 1)}`;
  await run("mcopy", ["-o", "-i", efi, fleet.provisionFile, "::/nvr-provision.json"]);
  let vm = await boot(dir, image, ssd, q, "1", null, fleet.fwds);
  /** Serial consoles of boots this QEMU run replaced (the power cut), for the failed-unit scan. */
  let earlierConsoles = "";
  let brokenFrom = -1;
  let brokenTo = -1;
  try {
    const kernel = await waitFor(serialHas(vm, /Linux version/), 180_000);
    check("GRUB loads the kernel (serial: 'Linux version')", kernel !== null);
    const slotA = await waitFor(serialHas(vm, /Kernel command line:.*rauc\.slot=A/), 30_000);
    check("GRUB booted slot A (kernel command line has rauc.slot=A)", slotA !== null);
    const body = await waitFor(
      () => healthz(vm.port),
      BOOT_DEADLINE_MS - (Date.now() - vm.startedAt),
      2000,
    );
    const readyS = (Date.now() - vm.startedAt) / 1000;
    check(
      "/healthz answers 200 through the 127.0.0.1 forward",
      body !== null,
      body?.trim() ?? "no answer",
    );
    if (body !== null) console.log(`power-on to ready (/healthz 200): ${readyS.toFixed(1)} s`);
    const console1 = await readText(vm.serial);
    check(
      "blank SSD formatted and mounted at /mnt/ssd (serial: Mounted mnt-ssd.mount)",
      /Mounted.*mnt-ssd\.mount|Mounted.*\/mnt\/ssd/.test(console1),
    );

    const table = JSON.parse(await run("sfdisk", ["-J", ssd])) as {
      partitiontable?: { label?: string; partitions?: { name?: string }[] };
    };
    check(
      "the SSD now has a GPT with one partition named nvr-data",
      table.partitiontable?.label === "gpt" &&
        table.partitiontable.partitions?.[0]?.name === "nvr-data",
    );
    // systemd stops printing unit status on the console once the login prompt is up, so the
    // health gate is read where it writes: grubenv on the image's EFI partition (GRUB set
    // A_TRY=1 at boot; rauc status mark-good sets it back to 0).
    const good = await waitFor(
      async () => {
        const env = await efiGrubenv(image).catch(() => "");
        return /A_OK=1/.test(env) && /A_TRY=0/.test(env) ? env : null;
      },
      180_000,
      3000,
    );
    check("slot A marked good after /healthz (grubenv: A_OK=1, A_TRY=0)", good !== null);
    // Enrolment: the box took the provisioning file, asked with its SMBIOS serial over the
    // bootstrap listener and came back with mutual TLS as itself.
    const base = `nvr/v1/${fleet.deviceId}`;
    const online = await fleet.cloud.waitFor(
      "state online",
      (m) => m.find((x) => x.topic === `${base}/state` && x.json?.state === "online"),
      BOOT_DEADLINE_MS,
    ).catch(() => null);
    check(
      `enrolled and online as itself over mutual TLS (${base}/state)`,
      online !== null,
      online ? "" : fleet.cloud.messages.map((x) => x.topic).slice(-5).join(", "),
    );
    const fp = await fleet.cloud.waitFor(
      "fingerprint",
      (m) => m.find((x) => x.topic === `${base}/fingerprint`),
      120_000,
    ).catch(() => null);
    check(
      `fingerprint on MQTT carries the board serial (${SERIAL}, from SMBIOS)`,
      fp !== null && JSON.stringify(fp.json).includes(SERIAL),
    );
    const httpsFp = String(online?.json?.httpsFingerprint ?? "");
    const certPem = await servedCertificate(vm.httpsPort).catch(() => "");
    const servedFp = certPem ? await pemFingerprint(certPem) : "";
    check(
      "the page's certificate is the one the box reported to the fleet (state.httpsFingerprint)",
      httpsFp !== "" && servedFp === httpsFp,
      `${servedFp || "none served"} vs ${httpsFp || "none reported"}`,
    );
    /** The recording check, running while the first updates are sent; awaited before a reboot. */
    let recordingChecked: Promise<void> = Promise.resolve();
    if (certPem && run_.claim) {
      const claim = await claimAndAddCamera(vm, certPem, fleet.cameraUrlInGuest).catch((
        err,
      ) => ({ setup: 0, login: 0, camera: 0, detail: describeError(err) }));
      check(
        "claimed with the provisioned setup code and a camera added over HTTPS (201, 200, 201)",
        claim.setup === 201 && claim.login === 200 && claim.camera === 201,
        `${claim.setup} ${claim.login} ${claim.camera} ${claim.detail}`,
      );
      // Awaited below, after the updates that need no reboot were sent: the first segment takes a
      // minute or two under TCG, and the fleet update's download (about 10 min) need not wait.
      recordingChecked = (async () => {
        const recording = await fleet.cloud.waitFor(
          "health: gate recording with a segment",
          (m) =>
            m.find((x) =>
              x.topic === `${base}/health` &&
              /"gate"[^}]*"state":"recording"[^}]*"segments":[1-9]/.test(JSON.stringify(x.json))
            ),
          300_000,
        ).catch(() => null);
        const recS = (Date.now() - vm.startedAt) / 1000;
        // On failure, what health said last (the run of 18:04 failed here with nothing to go on).
        const lastHealth = fleet.cloud.messages.filter((x) => x.topic === `${base}/health`);
        check(
          "health on MQTT: the camera records onto the SSD (state recording, a segment written)",
          recording !== null,
          recording ? "" : `${lastHealth.length} health messages; the last: ${
            JSON.stringify(
              (lastHealth.at(-1)?.json?.health as { cameras?: unknown } | undefined)?.cameras ??
                null,
            ).slice(0, 300)
          }`,
        );
        if (recording) console.log(`power-on to first segment on the SSD: ${recS.toFixed(1)} s`);
      })();
    }
    if (fleet.bundles && nextVersion) {
      const command = async (id: string, body: unknown, timeoutMs: number) => {
        await fleet.cloud.publish(`${base}/cmd/${id}`, JSON.stringify(body));
        const r = await fleet.cloud.waitFor(
          `cmd-result ${id}`,
          (m) => m.find((x) => x.topic === `${base}/cmd-result/${id}`),
          timeoutMs,
        ).catch(() => null);
        return r?.json ?? null;
      };
      if (run_.tampered) {
        const t = fleet.bundles.tampered;
        const refused = await command("tampered-1", {
          cmd: "update",
          url: t.url,
          size: t.size,
          sha256: t.sha256,
          version: nextVersion,
        }, 900_000);
        check(
          "a tampered bundle (its signature changed, the hash announced to match) is refused at the signature check",
          refused !== null && refused.ok === false && /signature/.test(JSON.stringify(refused)),
          JSON.stringify(refused).slice(0, 300),
        );
      }
      // The fleet update to the next version, sent as soon as nothing else needs the box first:
      // in the default half at once (its download overlaps the wait for the first segment), else
      // after the power cut and the broken update, which reboot the box.
      const sendGood = async () => {
        const g = fleet.bundles!.good;
        if (g === null) throw new Error(`no bundle ${nextBundle}: build it (make image-test)`);
        const bBefore = await serialCount(vm, SLOT_B);
        const sentAt = Date.now();
        const installed = command("update-1", {
          cmd: "update",
          url: g.url,
          size: g.size,
          sha256: g.sha256,
          version: nextVersion,
        }, 1_500_000).catch(() => null);
        return { bBefore, sentAt, installed };
      };
      const early = run_.good && !run_.powerCut && !(fleet.bundles.broken && brokenVersion)
        ? await sendGood()
        : null;
      await recordingChecked;
      // A power cut in the middle of an install: QEMU is killed once RAUC has begun writing slot
      // B (the ext4 superblock appears at its start). The old slot must boot cleanly and the box
      // report the update failed (the daemon finds the update it started and never finished).
      if (run_.powerCut) {
        const g = fleet.bundles.powerCut!;
        const bStart = await partitionOffset(image, 3);
        const already = await ext4AtStart(image, bStart);
        const cutSent = Date.now();
        await fleet.cloud.publish(
          `${base}/cmd/update-cut`,
          JSON.stringify({
            cmd: "update",
            url: g.url,
            size: g.size,
            sha256: g.sha256,
            version: nextVersion,
          }),
        );
        const writing = already ? null : await waitFor(
          async () => (await ext4AtStart(image, bStart)) ? true : null,
          1_500_000,
          250,
        );
        const finished = fleet.cloud.messages.find((x) =>
          x.topic === `${base}/cmd-result/update-cut`
        );
        check(
          "power cut: the update was being installed (RAUC had begun writing slot B, no result yet) when QEMU was killed",
          writing !== null && finished === undefined,
          already
            ? "slot B already held a filesystem before the update"
            : finished
            ? `the install had ended: ${JSON.stringify(finished.json).slice(0, 200)}`
            : "",
        );
        updateTimes(fleet.cloud.messages, "power cut update", nextVersion, cutSent, null);
        vm.child.kill("SIGKILL");
        await stop(vm);
        earlierConsoles += await readText(vm.serial);
        vm = await boot(dir, image, ssd, q, "1-after-power-cut", null, fleet.fwds);
        const cutA = await waitFor(serialHas(vm, SLOT_A), 300_000, 2000);
        check("after the power cut the box booted slot A (rauc.slot=A)", cutA !== null);
        const cutHealthz = await waitFor(() => healthz(vm.port), BOOT_DEADLINE_MS, 2000);
        check("after the power cut /healthz answers 200", cutHealthz !== null);
        const cutReport = await fleet.cloud.waitFor(
          "state: lastUpdate failed (power cut)",
          (m) =>
            m.find((x) => {
              const last = x.json?.lastUpdate as
                | { state?: string; to?: string; reason?: string }
                | undefined;
              return x.topic === `${base}/state` && x.json?.version !== nextVersion &&
                last?.state === "failed" && last.to === nextVersion &&
                /power cut|restarted/.test(last.reason ?? "");
            }),
          BOOT_DEADLINE_MS,
        ).catch(() => null);
        check(
          "after the power cut the old version reports the update failed (lastUpdate failed, why)",
          cutReport !== null,
          JSON.stringify(
            cutReport?.json?.lastUpdate ??
              fleet.cloud.messages.filter((x) => x.topic === `${base}/state`).at(-1)?.json ??
              null,
          ).slice(0, 300),
        );
        const cutEnv = await waitFor(
          async () => {
            const env = await efiGrubenv(image).catch(() => "");
            return /A_OK=1/.test(env) && /A_TRY=0/.test(env) && /B_OK=0/.test(env) ? env : null;
          },
          300_000,
          3000,
        );
        check(
          "grubenv after the power cut: slot A good (A_OK=1, A_TRY=0), the half-written slot B not bootable (B_OK=0)",
          cutEnv !== null,
          (await efiGrubenv(image).catch(() => "")).replace(/#+/g, "").replace(/\n+/g, " ").trim(),
        );
      }
      // An update whose new slot never passes the gate (its daemon cannot start): the box must go
      // back to slot A by itself (the image's backstop marks B bad and reboots; GRUB skips it) and
      // say so (lastUpdate rolled-back, with the reason). Its boot's failures are expected.
      const br = fleet.bundles.broken;
      if (br && brokenVersion) {
        const aBoots = await serialCount(vm, SLOT_A);
        const bBoots = await serialCount(vm, SLOT_B);
        brokenFrom = earlierConsoles.length + (await readText(vm.serial)).length;
        const sent = Date.now();
        const installedBroken = await command("update-broken", {
          cmd: "update",
          url: br.url,
          size: br.size,
          sha256: br.sha256,
          version: brokenVersion,
        }, 1_500_000);
        updateTimes(fleet.cloud.messages, "broken update", brokenVersion, sent, Date.now());
        check(
          `update ${brokenVersion} (its daemon cannot start): installed`,
          installedBroken !== null && installedBroken.ok === true,
          JSON.stringify(installedBroken).slice(0, 300),
        );
        const intoB = await waitFor(serialMore(vm, SLOT_B, bBoots), BOOT_DEADLINE_MS, 2000);
        check(`the box rebooted into slot B to try ${brokenVersion}`, intoB !== null);
        const backToA = await waitFor(serialMore(vm, SLOT_A, aBoots), BOOT_DEADLINE_MS, 2000);
        check("the new slot failed and the box booted slot A again by itself", backToA !== null);
        const text = earlierConsoles + await readText(vm.serial);
        brokenTo = text.lastIndexOf("Kernel command line:");
        const rolled = await fleet.cloud.waitFor(
          "state: lastUpdate rolled-back",
          (m) =>
            m.find((x) => {
              const last = x.json?.lastUpdate as { state?: string; to?: string } | undefined;
              return x.topic === `${base}/state` && last?.state === "rolled-back" &&
                last.to === brokenVersion;
            }),
          BOOT_DEADLINE_MS,
        ).catch(() => null);
        const lastUpdate = rolled?.json?.lastUpdate as { reason?: string } | undefined;
        check(
          `slot A reports the failed update to the fleet (lastUpdate rolled-back, to ${brokenVersion}, with a reason)`,
          rolled !== null && rolled.json?.version !== brokenVersion &&
            typeof lastUpdate?.reason === "string" && lastUpdate.reason.length > 0,
          JSON.stringify(rolled?.json?.lastUpdate ?? null).slice(0, 300),
        );
        if (rolled) {
          console.log(
            `failed update, command to rolled-back report: ${
              ((Date.now() - sent) / 1000).toFixed(0)
            } s`,
          );
        }
        const envA = await waitFor(
          async () => {
            const env = await efiGrubenv(image).catch(() => "");
            return /A_OK=1/.test(env) && /A_TRY=0/.test(env) && /B_OK=0/.test(env) ? env : null;
          },
          180_000,
          3000,
        );
        check(
          "grubenv after the rollback: slot B marked bad (B_OK=0), slot A good again (A_OK=1, A_TRY=0)",
          envA !== null,
          (await efiGrubenv(image).catch(() => "")).replace(/#+/g, "").replace(/\n+/g, " ").trim(),
        );
      }
      // --skip-fleet-update: a run for the broken update alone (the good one passed in an earlier
      // run); without it, the next version is installed last and must pass the health gate.
      if (run_.good) {
        const sent = early ?? await sendGood();
        const { bBefore, sentAt } = sent;
        const installed = await sent.installed;
        updateTimes(fleet.cloud.messages, "fleet update", nextVersion, sentAt, Date.now());
        check(
          `update ${nextVersion} over the fleet: downloaded over HTTPS, verified and installed`,
          installed !== null && installed.ok === true,
          JSON.stringify(installed).slice(0, 300),
        );
        const slotB = await waitFor(serialMore(vm, SLOT_B, bBefore), BOOT_DEADLINE_MS, 2000);
        check("the box rebooted into slot B", slotB !== null);
        const good = await fleet.cloud.waitFor(
          "state: the new version, marked good",
          (m) =>
            m.find((x) =>
              x.topic === `${base}/state` && x.json?.version === nextVersion &&
              (x.json?.lastUpdate as { state?: string } | undefined)?.state === "good"
            ),
          BOOT_DEADLINE_MS,
        ).catch(() => null);
        check(
          `slot B runs ${nextVersion}, passed the health gate and says so in state (lastUpdate good)`,
          good !== null,
          JSON.stringify(
            fleet.cloud.messages.filter((x) => x.topic === `${base}/state`).at(-1)?.json ?? null,
          ).slice(0, 300),
        );
        if (good) {
          console.log(
            `fleet update, command to good: ${((Date.now() - sentAt) / 1000).toFixed(0)} s`,
          );
        }
        const env = await efiGrubenv(image).catch(() => "");
        check(
          "grubenv after the fleet update: ORDER=B A, B_OK=1, B_TRY=0",
          /ORDER=B A/.test(env) && /B_OK=1/.test(env) && /B_TRY=0/.test(env),
          env.replace(/#+/g, "").replace(/\n+/g, " ").trim(),
        );
      }
    }
    await recordingChecked;
    // The broken version's boot (from its command to the next kernel) fails on purpose.
    const all = earlierConsoles + await readText(vm.serial);
    const scanned = brokenFrom >= 0 && brokenTo > brokenFrom
      ? all.slice(0, brokenFrom) + all.slice(brokenTo)
      : all;
    const bad = /Failed to start|FAILED/.exec(scanned);
    check(
      "no unit failed on the serial console (outside the broken version's boot)",
      bad === null,
      bad ? scanned.slice(Math.max(0, bad.index - 100), bad.index + 100).replace(/\s+/g, " ") : "",
    );
  } finally {
    await stop(vm);
  }
  const left = await run("mdir", ["-b", "-i", efi, "::/"]).catch(() => "");
  check(
    "the provisioning file is gone from the boot partition",
    left !== "" && !/nvr-provision\.json/i.test(left),
  );

  // --- Boot 3: update from a disk labelled NVR-UPDATE into slot B ------------------------------
  // On request only (--stick-update), on a fresh copy of the image and a blank SSD: after boot 1
  // the box already runs the next version from slot B, and the same version again is refused (the
  // run of 04:48 booted the updated copy, so the stick's bundle went into slot A and no check held).
  if (flag("--stick-update")) {
    const bundle = nextVersion
      ? `nvr-${nextVersion}-${board}.raucb`
      : [...Deno.readDirSync(outDir)].map((e) => e.name).filter((n) =>
        /^nvr-\d+\.\d+\.\d+-/.test(n) && n.endsWith(`-${board}.raucb`) && !/-broken-/.test(n)
      ).sort().at(-1);
    if (!bundle) throw new Error(`no out/${board}/nvr-*-${board}.raucb: run make image first`);
    const image = `${dir}/boot-stick.img`;
    await run("zstd", ["-q", "-d", "-f", `${outDir}/${zst}`, "-o", image]);
    const ssd = `${dir}/ssd-stick.img`;
    await run("truncate", ["-s", "8G", ssd]);
    const stick = `${dir}/update-stick.vfat`;
    const bundleMiB = Math.ceil((await Deno.stat(`${outDir}/${bundle}`)).size / 2 ** 20) + 64;
    await run("mkfs.vfat", ["-C", "-n", "NVR-UPDATE", stick, String(bundleMiB * 1024)]);
    await run("mcopy", ["-i", stick, `${outDir}/${bundle}`, `::/${bundle}`]);
    const vm3 = await boot(dir, image, ssd, q, "3", stick);
    try {
      const installed = await waitFor(
        serialHas(vm3, /Kernel command line:.*rauc\.slot=B/),
        BOOT_DEADLINE_MS,
        2000,
      );
      check("update stick: RAUC installed the bundle and GRUB booted slot B", installed !== null);
      const body = await waitFor(() => healthz(vm3.port), BOOT_DEADLINE_MS, 2000);
      check("slot B: /healthz answers 200 through the forward", body !== null);
      const good = await waitFor(
        async () => {
          const env = await efiGrubenv(image).catch(() => "");
          return /ORDER=B A/.test(env) && /B_OK=1/.test(env) && /B_TRY=0/.test(env) ? env : null;
        },
        180_000,
        3000,
      );
      check(
        "slot B marked good after /healthz (grubenv: ORDER=B A, B_OK=1, B_TRY=0)",
        good !== null,
      );
    } finally {
      await stop(vm3);
    }
    const efi = await efiGrubenv(image);
    check(
      "grubenv after the update: ORDER=B A, B_OK=1, B_TRY=0",
      /ORDER=B A/.test(efi) && /B_OK=1/.test(efi) && /B_TRY=0/.test(efi),
      efi.replace(/#+/g, "").replace(/\n+/g, " ").trim(),
    );
    await Deno.remove(image).catch(() => {});
    await Deno.remove(ssd).catch(() => {});
  }

  // --- Boot 2: an SSD holding data is never formatted -----------------------------------------
  if (run_.notBlank) {
    const used = `${dir}/ssd-used.img`;
    await run("truncate", ["-s", "8G", used]);
    // Not zero, and no signature wipefs knows: the kind of disk a careless script would format.
    const marker = new TextEncoder().encode("precious recordings, no filesystem signature\n");
    const f = await Deno.open(used, { write: true });
    await f.seek(4096, Deno.SeekMode.Start);
    await f.write(marker);
    f.close();
    const before = await run("sha256sum", [used]);
    const vm2 = await boot(dir, image, used, q, "2");
    try {
      const refused = await waitFor(
        serialHas(vm2, /FAILED.*nvr-data-disk|Failed to start.*nvr-data-disk/),
        BOOT_DEADLINE_MS,
        2000,
      );
      // The daemon still starts without its disk (it records nothing: storage.requireMount) and
      // answers, so the box can say what is wrong instead of going silent.
      const answered = await waitFor(() => healthz(vm2.port), BOOT_DEADLINE_MS, 2000);
      check("an SSD holding data: nvr-data-disk refuses (serial)", refused !== null);
      check(
        "an SSD holding data: nvr.service runs without it (/healthz 200), /mnt/ssd not mounted",
        answered !== null && !/Mounted.*mnt-ssd\.mount/.test(await readText(vm2.serial)),
        answered?.trim() ?? "no answer",
      );
    } finally {
      await stop(vm2);
    }
    const after = await run("sha256sum", [used]);
    check(
      "an SSD holding data is not written at all (sha256 unchanged)",
      before.split(" ")[0] === after.split(" ")[0],
    );
  }

  console.log(`serial consoles: ${dir}/serial-*.log`);
}

try {
  await main();
} catch (err) {
  check("image test ran to the end", false, err instanceof Error ? err.message : String(err));
}
console.log(`image-test: ${checks.passed} passed, ${checks.failed} failed`);
Deno.exit(checks.failed === 0 ? 0 : 1);
