/**
 * Run by ws_discovery_test.ts inside a network namespace of its own (the box's): two links,
 * each a veth pair to a namespace of a camera's own (unshare --net), 10.77.1.0/24 on A and
 * 10.77.2.0/24 on B, no route for multicast. A discover request with `interface` A (by name) and
 * then B (by address), resolved against this namespace's real interfaces, and one naming an
 * interface the box does not have. Prints one JSON line.
 */
import { discoverRequest } from "../api/camera_admin.ts";
import { discoverCameras } from "./discover.ts";

const run = async (cmd: string, ...args: string[]) => {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
};

const responder = new URL("./_netns_responder.ts", import.meta.url).pathname;
const cameras: Deno.ChildProcess[] = [];
try {
  for (const [link, net] of [["a", 1], ["b", 2]] as const) {
    const cam = `10.77.${net}.2`;
    // The camera's namespace waits for its end of the link, then configures it and answers.
    const script = `read go && ip link set lo up && ip addr add ${cam}/24 dev cam${link} && ` +
      `ip link set cam${link} up && exec "$0" run -A --no-prompt "$1" ${cam}`;
    const child = new Deno.Command("unshare", {
      args: ["--net", "--", "sh", "-c", script, Deno.execPath(), responder],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    cameras.push(child);
    await run("ip", "link", "add", `box${link}`, "type", "veth", "peer", "name", `cam${link}`);
    await run("ip", "link", "set", `cam${link}`, "netns", String(child.pid));
    await run("ip", "addr", "add", `10.77.${net}.1/24`, "dev", `box${link}`);
    await run("ip", "link", "set", `box${link}`, "up");
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    writer.releaseLock();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const line = await reader.read();
    if (!line.value?.includes("ready")) throw new Error(`camera ${link} did not start`);
    reader.releaseLock();
  }
  const find = async (body: Record<string, unknown>) => {
    const req = discoverRequest({ timeoutMs: 1500, ...body });
    const r = await discoverCameras(req, []);
    return r.cameras.map((c) => c.address);
  };
  const onA = await find({ interface: "boxa" });
  const onB = await find({ interface: "10.77.2.1" });
  let refused = "";
  try {
    discoverRequest({ interface: "wlan9" });
  } catch (err) {
    refused = (err as Error).message;
  }
  console.log(JSON.stringify({ onA, onB, refused }));
} finally {
  for (const c of cameras) {
    await c.stdin.close().catch(() => {});
    await c.status;
    await c.stdout.cancel().catch(() => {});
  }
}
