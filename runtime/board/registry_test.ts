import { assert, assertEquals } from "../testing/assert.ts";
import { loadProfile } from "./profile.ts";
import {
  fragmentElements,
  GstRegistry,
  ListRegistry,
  loadRegistryFiles,
  parseRegistryList,
  probeRegistry,
  profileElements,
} from "./registry.ts";

const testdata = new URL("./testdata/", import.meta.url).pathname;

Deno.test("a registry list is one name a line; comments and blank lines are skipped", () => {
  assertEquals(parseRegistryList("# board\nx265enc\n\n  nvvidconv  # converter\n"), [
    "x265enc",
    "nvvidconv",
  ]);
});

Deno.test("fixture registries: the board's hardware list plus the common software list", async () => {
  const nano = await loadRegistryFiles(
    `${testdata}jetson-orin-nano/registry.txt`,
    `${testdata}software.txt`,
  );
  assert(nano.has("nvv4l2h265enc"), "installed on the Orin Nano, though it cannot run");
  assert(nano.has("x265enc") && nano.has("avdec_h264"));
  assert(!nano.has("mpph265enc"));
  const pi5 = await loadRegistryFiles(`${testdata}rpi5/registry.txt`, `${testdata}software.txt`);
  assertEquals(pi5.names().filter((n) => n.startsWith("v4l2")), ["v4l2slh265dec", "v4l2src"]);
});

Deno.test("fragmentElements names the elements and skips caps", () => {
  assertEquals(
    fragmentElements(
      "jpegparse ! nvv4l2decoder mjpeg=1 ! nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! " +
        'v4l2h264enc extra-controls="encode,video_bitrate=1" ! video/x-h264,level=(string)4',
    ),
    ["jpegparse", "nvv4l2decoder", "nvvidconv", "v4l2h264enc"],
  );
  assertEquals(fragmentElements(""), []);
});

Deno.test("profileElements lists every element a profile may use, fragments included", () => {
  const names = profileElements(loadProfile("jetson"));
  for (const n of ["nvv4l2h265enc", "nvvidconv", "nvv4l2decoder", "jpegparse", "x265enc"]) {
    assert(names.includes(n), n);
  }
});

Deno.test("the live registry asks GStreamer: software encoders here, no board encoders", () => {
  const live = probeRegistry(loadProfile("jetson"));
  assertEquals(live.probed().get("x265enc"), true);
  assertEquals(live.probed().get("nvv4l2h265enc"), false);
  assert(live.has("x264enc") && live.has("avdec_h264") && live.has("jpegdec"));
  assert(!live.has("mpph265enc") && !live.has("no_such_element"));
  assertEquals(live.probed().get("no_such_element"), false, "asked later, remembered");
  assert(new GstRegistry().has("videoconvert"));
  assert(new ListRegistry(["a"]).has("a"));
});
