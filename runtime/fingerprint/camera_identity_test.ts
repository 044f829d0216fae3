/**
 * A camera's identity in the fingerprint: MAC from the camera (ONVIF) or the neighbour table, and
 * what a camera swapped for another does to the hashes and to the licence.
 */
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { freePorts } from "../../hw-tests/sim/ports.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { generateLicenceKeyPair, signLicence, verifyLicence } from "../licence/mod.ts";
import {
  camerasHash,
  collectFingerprint,
  fingerprintHash,
  type FingerprintSources,
} from "./mod.ts";
import { fixtureSources } from "./sources_fixture.ts";
import { parseArpTable } from "./neighbours.ts";

const ARP = `IP address       HW type     Flags       HW address            Mask     Device
192.168.1.30     0x1         0x2         A4:14:37:0B:0C:0D     *        eth0
192.168.1.31     0x1         0x0         00:00:00:00:00:00     *        eth0
192.168.1.32     0x1         0x2         00:00:00:00:00:00     *        eth0
127.0.0.1        0x1         0x2         bc:ad:28:00:00:01     *        lo
`;

Deno.test("neighbour table: complete entries only, lower case, all-zero MACs skipped", () => {
  assertEquals(
    [...parseArpTable(ARP)],
    [["192.168.1.30", "a4:14:37:0b:0c:0d"], ["127.0.0.1", "bc:ad:28:00:00:01"]],
  );
  assertEquals(parseArpTable("").size, 0);
});

async function procWithArp(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "nvr-proc-" });
  await Deno.mkdir(`${root}/net`);
  await Deno.writeTextFile(`${root}/net/arp`, ARP);
  return root;
}

Deno.test("camera without ONVIF: MAC from the neighbour table, with its source", async () => {
  const proc = await procWithArp();
  try {
    const fp = await collectFingerprint({
      ...await fixtureSources("x86"),
      procRoot: proc,
      cameras: [
        { id: "old", url: "rtsp://192.168.1.30:554/stream1" },
        { id: "far", url: "rtsp://10.8.0.5/stream1" },
      ],
    });
    assertEquals(fp.cameras[0]?.mac, { value: "a4:14:37:0b:0c:0d", source: `${proc}/net/arp` });
    assertEquals(fp.cameras[0]?.origin, "config");
    assertEquals(fp.cameras[1]?.mac, null);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("a camera swapped for another: camerasHash moves, the licence hash and licence hold", async () => {
  const [rtspPort = 0, onvifPort = 0] = freePorts(2);
  const base: FingerprintSources = {
    ...await fixtureSources("x86"),
    procRoot: await procWithArp(),
  };
  const read = async () => {
    const sources: FingerprintSources = {
      ...base,
      cameras: [{
        id: "door",
        url: `rtsp://127.0.0.1:${rtspPort}/main`,
        onvifUrl: `http://127.0.0.1:${onvifPort}/onvif/device_service`,
        username: "admin",
        password: "pw",
      }],
    };
    return await collectFingerprint(sources);
  };
  const cam = (serial: string, model: string) =>
    startVirtualCamera({
      codec: "h264",
      width: 160,
      height: 120,
      rtspPort,
      onvifPort,
      serial,
      model,
      user: "admin",
      password: "pw",
    });
  let first;
  {
    await using _a = await cam("A-0001", "SimCam-1");
    first = await read();
  }
  let second;
  {
    await using _b = await cam("B-0002", "SimCam-2");
    second = await read();
  }
  const offline = await read();
  await Deno.remove(base.procRoot!, { recursive: true });

  assertEquals(first.cameras[0]?.serial?.value, "A-0001");
  assertEquals(second.cameras[0]?.serial?.value, "B-0002");
  assertEquals(first.cameras[0]?.origin, "onvif");
  assert(first.cameras[0]?.mac?.source.startsWith("onvif:GetNetworkInterfaces"));
  assert(first.cameras[0]?.mac?.value !== second.cameras[0]?.mac?.value, "MACs differ");
  // The camera part of the fingerprint moves with the swap; offline, the camera drops out of it.
  const hashes = await Promise.all([first, second, offline].map(camerasHash));
  assertEquals(new Set(hashes).size, 3);
  assertEquals(offline.cameras[0]?.origin, "config");
  // The licence binding does not: cameras are not bound, the licence stays valid.
  const bound = await fingerprintHash(first);
  assertEquals(await fingerprintHash(second), bound);
  assertEquals(await fingerprintHash(offline), bound);
  const keys = await generateLicenceKeyPair();
  const licence = await signLicence({
    v: 1,
    licenceId: "lic-1",
    deviceId: "nvr-0000000000000001",
    fingerprintHash: bound,
    maxCameras: 1,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 86_400_000,
  }, keys.privateKey);
  const status = await verifyLicence(JSON.stringify(licence), {
    publicKeys: [{ id: "k", publicKey: keys.publicKeyRaw }],
    fingerprintHash: await fingerprintHash(second),
    deviceId: "nvr-0000000000000001",
    now: Date.now(),
    graceDays: 14,
  });
  assertEquals(status.state, "valid");
});
