import { assertEquals } from "../testing/assert.ts";
import { REDACTED, redactUrl } from "./redact_url.ts";

Deno.test("redactUrl: the password becomes the marker, the user stays, a broken URL loses both", () => {
  assertEquals(
    redactUrl("rtsp://admin:s3cret@10.0.0.5:554/main"),
    `rtsp://admin:${REDACTED}@10.0.0.5:554/main`,
  );
  assertEquals(redactUrl("rtsp://10.0.0.5/main"), "rtsp://10.0.0.5/main");
  assertEquals(redactUrl("rtsp://admin@10.0.0.5/main"), "rtsp://admin@10.0.0.5/main");
  assertEquals(redactUrl("mqtts://u:p@broker:8883"), `mqtts://u:${REDACTED}@broker:8883`);
  assertEquals(redactUrl("rtsp://admin:pa ss@[bad/main"), "rtsp://[bad/main");
});
