import { assertEquals, assertMatch } from "../../testing/assert.ts";
import {
  readUdpReceiveBuffer,
  UDP_BUFFER_MIN,
  UDP_BUFFER_WANTED,
  udpBufferWarning,
} from "./udp_buffer.ts";

Deno.test("udp buffer: the kernel's default read from a proc tree; missing or junk is unknown", () => {
  const root = Deno.makeTempDirSync();
  try {
    assertEquals(readUdpReceiveBuffer(root), null);
    Deno.mkdirSync(`${root}/sys/net/core`, { recursive: true });
    Deno.writeTextFileSync(`${root}/sys/net/core/rmem_default`, "212992\n");
    assertEquals(readUdpReceiveBuffer(root), 212992);
    Deno.writeTextFileSync(`${root}/sys/net/core/rmem_default`, "lots\n");
    assertEquals(readUdpReceiveBuffer(root), null);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("udp buffer: Linux's default warns with the sysctl to set; the image's value does not", () => {
  const warning = udpBufferWarning(212992);
  assertMatch(warning ?? "", /212992 bytes/);
  assertMatch(warning ?? "", /net\.core\.rmem_default=4194304/);
  assertMatch(warning ?? "", /60-nvr-udp\.conf/);
  assertMatch(warning ?? "", /"tcp"/);
  assertEquals(udpBufferWarning(UDP_BUFFER_WANTED), null);
  assertEquals(udpBufferWarning(UDP_BUFFER_MIN), null);
  assertEquals(udpBufferWarning(null), null);
});

Deno.test("udp buffer: the image sets what the recorder asks for", () => {
  const conf = Deno.readTextFileSync(
    new URL("../../../rootfs-overlay/etc/sysctl.d/60-nvr-udp.conf", import.meta.url),
  );
  assertMatch(conf, new RegExp(`^net\\.core\\.rmem_default = ${UDP_BUFFER_WANTED}$`, "m"));
  assertMatch(conf, new RegExp(`^net\\.core\\.rmem_max = ${2 * UDP_BUFFER_WANTED}$`, "m"));
});
