/**
 * The thumbnail worker process on its own: it writes a picture only while the data folder is the
 * one the daemon checked (same device). It runs at the lowest priority, so a disk pulled between
 * the daemon's check and the worker's turn must not make it create folders on the root filesystem
 * (seen in a fresh-clone run: the unplugged-disk test found `nvr/` on the bare mount point).
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { runCommand } from "../testing/ffmpeg.ts";

const WORKER = new URL("./thumbnail_worker_main.ts", import.meta.url).pathname;

async function ask(jobs: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", WORKER],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(jobs.map((j) => JSON.stringify(j)).join("\n") + "\n"),
  );
  await writer.close();
  const out = await child.output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l).map((l) =>
    JSON.parse(l)
  );
}

Deno.test("thumbnail worker: writes on the checked disk; a data folder gone since the check is never created", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-thumb-worker-" });
  try {
    const source = `${dir}/data/seg.mp4`;
    await Deno.mkdir(`${dir}/data`);
    const made = await runCommand("ffmpeg", [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=15",
      "-t",
      "1",
      "-c:v",
      "libx264",
      "-g",
      "15",
      "-pix_fmt",
      "yuv420p",
      source,
    ], 30_000);
    assertEquals(made.stderr.trim(), "", "test clip encoded");
    const dev = (await Deno.stat(`${dir}/data`)).dev;
    const job = { codec: "h264", width: 160, timeoutMs: 20_000, source, dev };
    const [ok, gone] = await ask([
      { ...job, id: 1, dataDir: `${dir}/data`, out: `${dir}/data/thumbnails/cam/1.jpg` },
      // The disk went away: its mount point is an empty folder, the data folder is not there.
      { ...job, id: 2, dataDir: `${dir}/ssd/nvr`, out: `${dir}/ssd/nvr/thumbnails/cam/2.jpg` },
    ]);
    assertEquals(ok?.id, 1);
    assertEquals(typeof ok?.bytes, "number", JSON.stringify(ok));
    assertEquals(gone?.id, 2);
    assertMatch(String(gone?.error), /data disk went away/);
    assertEquals(await Deno.stat(`${dir}/ssd`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
