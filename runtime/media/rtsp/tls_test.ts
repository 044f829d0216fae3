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
