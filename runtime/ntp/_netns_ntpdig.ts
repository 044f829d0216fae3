/**
 * Run by server_test.ts inside a network namespace of its own (unshare --net, loopback up): the
 * SNTP server on 127.0.0.1:123, the port real clients ask, queried by ntpdig (ntpsec's SNTP
 * client) while the clock is believed and while it is not. Prints one JSON line.
 */
import { memoryLogger } from "../lib/log.ts";
import { type SntpTime, startSntpServer } from "./server.ts";

let time: SntpTime = {
  trusted: true,
  stratum: 3,
  refId: "LOCL",
  referenceMs: Date.now() - 60_000,
  rootDispersionMs: 20,
};
const server = startSntpServer({
  listen: [{ hostname: "127.0.0.1", port: 123 }],
  time: () => time,
  log: memoryLogger(),
});
const ntpdig = async () => {
  const out = await new Deno.Command("ntpdig", {
    args: ["-j", "-t", "5", "127.0.0.1"],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
};
const trusted = await ntpdig();
time = { trusted: false };
const unsynced = await ntpdig();
await server.close();
console.log(JSON.stringify({ trusted, unsynced, stats: server.stats }));
