/**
 * A stand-in recorder worker for worker_start_test.ts: a process that takes long before its first
 * line, as a real worker does while loading its modules on a slow box. It reads the init line, then
 * acts on its first camera's id: `delay-<ms>` waits that long and then reports the camera recording
 * every 200 ms; `silent` never says a word. Exits on SIGTERM or when its stdin closes.
 */
import { jsonLines, type ToWorker } from "./worker_protocol.ts";

const lines = jsonLines(Deno.stdin.readable);
const init = (await lines.next()).value as ToWorker | undefined;
if (!init || init.type !== "init") throw new Error("slow worker fixture: expected an init line");
const id = init.cameras[0]?.camera.id ?? "";
const closed = (async () => {
  for await (const _ of lines) { /* ignored */ }
})();
if (id !== "silent") {
  const delayMs = Number(/^delay-(\d+)$/.exec(id)?.[1] ?? "0");
  await new Promise((r) => setTimeout(r, delayMs));
  const status = { id, state: "recording", lastError: null, restarts: 0, segments: 0 };
  const encoder = new TextEncoder();
  const timer = setInterval(() => {
    Deno.stdout.writeSync(
      encoder.encode(JSON.stringify({ type: "status", cameras: [status] }) + "\n"),
    );
  }, 200);
  await closed;
  clearInterval(timer);
} else {
  await closed;
}
