import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { makeTestCertificates } from "../../testing/mosquitto.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { startTlsRelay } from "../../../hw-tests/sim/tls_relay.ts";
import { RtspError, RtspSession } from "./session.ts";

Deno.test("attack: rtsps camera with a certificate from another CA is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pki = await makeTestCertificates(`${dir}/pki`);
    await using cam = await startVirtualCamera({ codec: "h264", fps: 15 });
    // The "camera" shows a certificate for 127.0.0.1 from a CA the NVR was not told to trust
    // (a machine in the middle, or a camera someone swapped).
    await using relay = await startTlsRelay({
      target: cam.info.rtspPort,
      certFile: pki.serverCertFile,
      keyFile: pki.serverKeyFile,
    });
    const url = relay.urlFor("/main");
    const otherCa = await assertRejects(
      () =>
        RtspSession.open({ url, caCerts: [Deno.readTextFileSync(`${pki.dir}/foreign-ca.crt`)] }),
      RtspError,
    );
    assertEquals(otherCa.kind, "connect");
    assertMatch(otherCa.message, /certificate is not trusted .*cameras\[\]\.caFile: put the CA/);
    const noCa = await assertRejects(() => RtspSession.open({ url }), RtspError);
    assertMatch(noCa.message, /not trusted .*set cameras\[\]\.caFile to its path/);
    assert(relay.accepted >= 2, "both attempts reached the camera and were refused in TLS");
    // The right CA: the same camera is accepted and describes its stream.
    await using ok = await RtspSession.open({
      url,
      caCerts: [Deno.readTextFileSync(pki.caFile)],
    });
    assertEquals(ok.video.codec, "h264");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rtsps: a self-signed camera certificate marked CA:TRUE is refused with what to change", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("openssl", {
      args: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"].concat(
        ["-nodes", "-keyout", `${dir}/cam.key`, "-out", `${dir}/cam.crt`, "-days", "2"],
        ["-subj", "/CN=cam", "-addext", "subjectAltName=IP:127.0.0.1"],
        ["-addext", "basicConstraints=critical,CA:TRUE"],
      ),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const cert = await Deno.readTextFile(`${dir}/cam.crt`);
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert,
      key: await Deno.readTextFile(`${dir}/cam.key`),
    });
    const served = listener.accept().then(async (c) => {
      await c.handshake().catch(() => {});
      c.close();
    });
    const port = (listener.addr as Deno.NetAddr).port;
    const err = await assertRejects(
      () => RtspSession.open({ url: `rtsps://127.0.0.1:${port}/main`, caCerts: [cert] }),
      RtspError,
    );
    await served;
    listener.close();
    assertMatch(err.message, /marked as a CA \(CA:TRUE\).*CA:FALSE.*cameras\[\]\.caFile/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
