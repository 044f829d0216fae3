/**
 * The daemon as `make run` starts it: runtime/main.ts, with the plugins' serial ports under
 * `.demo/dev/` (`$NVR_DEMO_DIR/dev/`) instead of `/dev/`, where the demo puts its virtual serial sensor (`ttyUSB0`, a
 * socat pseudo-terminal). Only the demo uses this entry; the box runs runtime/main.ts.
 */
import { main } from "../../runtime/main.ts";

/** The demo's folder: NVR_DEMO_DIR (a test's own), else `.demo/` in the checkout. */
export const DEMO_DIR = Deno.env.get("NVR_DEMO_DIR") ??
  new URL("../../.demo", import.meta.url).pathname;
export const DEMO_DEV_ROOT = `${DEMO_DIR}/dev`;

if (import.meta.main) Deno.exit(await main({ plugins: { devRoot: DEMO_DEV_ROOT } }));
