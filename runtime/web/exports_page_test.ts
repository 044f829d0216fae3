/**
 * The Exports page in Debian's Chromium (playwright-core) against the real daemon recording an
 * H.264 virtual camera (2 s segments): an export whose recording is gone from the disk shows
 * "failed" with the reason; a running export shows its progress strictly between 0 and 1 (the
 * job's second segment is a FIFO that this test feeds a little at a time, so the real ffmpeg job
 * runs as slowly as a big one would); it then finishes, done with its size; Delete removes rows.
 * Screenshots at 1280 and 390 px in test-artifacts/exports/.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { hasChromium, openAsNewAdmin, sidewaysOverflow } from "../testing/chromium.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { writeAll } from "../std/io/write_all.ts";

const ARTIFACTS = new URL("../../test-artifacts/exports/", import.meta.url);

Deno.test({
  name: "exports page in Chromium: a failed export with its reason, progress while running, delete",
  ignore: !hasChromium,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using cam = await startVirtualCamera({ codec: "h264", width: 640, height: 360, fps: 15 });
    await using h = await startHarness({
      cameras: [{ id: "lane", url: cam.rtspUrl, codec: "h264" }],
    });
    await h.until("lane", (s) => s.segments >= 7, "lane records seven segments", 90_000);
    const segs = h.index().range("lane", 0, Date.now() + 1e6);
    const file = (i: number) => `${h.dir}/data/${segs[i]!.path}`;
    await using session = await openAsNewAdmin(h);
    const { page, errors } = session;
    /** POST /api/exports as the signed-in admin (the CSRF token from /api/me). */
    const exportRange = (from: number, to: number) =>
      page.evaluate(async ([from, to]) => {
        const { csrfToken } = await (await fetch("/api/me")).json();
        const res = await fetch("/api/exports", {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": csrfToken },
          body: JSON.stringify({ camera: "lane", from, to }),
        });
        return { status: res.status, body: await res.json() };
      }, [from, to]);

    // Failed: the only recording of the range is gone from the disk before the job runs.
    await Deno.remove(file(1));
    const failed = await exportRange(segs[1]!.startMs + 200, segs[1]!.endMs - 200);
    assertEquals(failed.status, 201, JSON.stringify(failed));
    await page.evaluate(() => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = "#/exports";
    });
    const failedRow = `#exports tr[data-export="${failed.body.id}"]`;
    await page.waitForSelector(`${failedRow}[data-state="failed"]`, { timeout: 30_000 });
    const reason = (await page.textContent(`${failedRow} .error`)) ?? "";
    assert(
      reason.includes("failed:") && reason.includes("no longer on disk"),
      `the reason is shown: ${reason}`,
    );

    // Running: segment 4, the second of the job's three, becomes a FIFO with its own bytes, fed a
    // little at a time: ffmpeg copies segment 3, then waits on segment 4 and reports its position
    // (about a third) as the bytes come; the page polls once a second. (ffmpeg reads most of a
    // 2 s file before it gives its first packet, so the FIFO as the first file would show ~0 %.)
    const fifo = file(4);
    const bytes = await Deno.readFile(fifo);
    await Deno.remove(fifo);
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert(made.success, new TextDecoder().decode(made.stderr));
    // Read and write: opening a FIFO so never blocks, whether or not ffmpeg has opened it yet.
    const pipe = await Deno.open(fifo, { read: true, write: true });
    try {
      const running = await exportRange(segs[3]!.startMs + 200, segs[5]!.endMs - 200);
      assertEquals(running.status, 201, JSON.stringify(running));
      // Made outside this page: the list shows it when opened again (it polls only while a job
      // of its own list is queued or running).
      await page.reload();
      const row = `#exports tr[data-export="${running.body.id}"]`;
      await page.waitForSelector(`${row}[data-state="running"]`, { timeout: 30_000 });
      // ffmpeg reads most of a 2 s file (its stream analysis) before its first packet, so the
      // first 80 % goes at once and the rest in small steps, which leaves seconds for ffmpeg to
      // report and for the page to poll once packets flow.
      let sent = Math.floor(bytes.length * 0.8);
      await writeAll(pipe, bytes.subarray(0, sent));
      const step = Math.max(128, Math.ceil(bytes.length / 250));
      let seen = NaN;
      const deadline = Date.now() + 60_000;
      while (!(seen >= 0.2 && seen < 1)) {
        if (Date.now() > deadline) throw new Error(`no progress shown within 60 s (${seen})`);
        if (sent >= bytes.length) {
          throw new Error(`the whole segment was fed and the page showed no progress (${seen})`);
        }
        await writeAll(pipe, bytes.subarray(sent, sent + step));
        sent += step;
        await new Promise((r) => setTimeout(r, 200));
        seen = await page.$eval(
          `${row} progress`,
          (p) => Number((p as unknown as { value: number }).value),
        ).catch(() => NaN);
      }
      const percent = (await page.textContent(`${row} td:nth-child(3)`))?.trim() ?? "";
      console.log(
        `exports: progress ${seen} shown as "${percent}" after ${sent} of ${bytes.length} bytes`,
      );
      assert(/^[0-9]{1,2}%$/.test(percent), `a percentage under 100: ${percent}`);
      await page.screenshot({ path: new URL("exports-running-1280.png", ARTIFACTS).pathname });
      // The rest of the segment, then the end of the file: the job finishes.
      await writeAll(pipe, bytes.subarray(sent));
    } finally {
      pipe.close();
    }
    const doneRow = `#exports tr[data-state="done"]`;
    await page.waitForSelector(doneRow, { timeout: 30_000 });
    assert(/\d+(\.\d)? [kMG]B/.test((await page.textContent(`${doneRow} td:nth-child(4)`)) ?? ""));
    assert(await page.isVisible(`${doneRow} a[download]`), "a download link once done");
    await page.screenshot({
      path: new URL("exports-1280.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: new URL("exports-390.png", ARTIFACTS).pathname,
      fullPage: true,
    });
    const overflow = await sidewaysOverflow(page);
    assert(overflow <= 0, `no sideways page scrolling at 390 px (overflow ${overflow}px)`);
    await page.setViewportSize({ width: 1280, height: 800 });

    // Delete: the failed one, then the done one (its file goes with it).
    await page.click(`${failedRow} button:has-text("Delete")`);
    await page.waitForSelector(failedRow, { state: "detached" });
    await page.click(`${doneRow} button:has-text("Delete")`);
    await page.waitForSelector("#exports tr[data-export]", { state: "detached" });
    assert(
      (await page.textContent("#exports"))?.includes("No exports yet"),
      "the list is empty again",
    );
    const left = [...Deno.readDirSync(`${h.dir}/data/exports`)].map((e) => e.name);
    assertEquals(left, [], "no export file left on the disk");
    assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  },
});
