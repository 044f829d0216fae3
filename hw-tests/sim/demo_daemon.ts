/**
 * The daemon as `make run` starts it: runtime/main.ts, with the plugins' serial ports under
 * `.demo/dev/` instead of `/dev/`, where the demo puts its virtual serial sensor (`ttyUSB0`, a
 * socat pseudo-terminal). Only the demo uses this entry; the box runs runtime/main.ts.
 */
import { main } from "../../runtime/main.ts";

export const DEMO_DEV_ROOT = new URL("../../.demo/dev", import.meta.url).pathname;

if (import.meta.main) Deno.exit(await main({ plugins: { devRoot: DEMO_DEV_ROOT } }));
