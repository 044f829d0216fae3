/**
 * Boot smoke test of a built image: boots `out/<board>/nvr-*-<board>.img.zst` in the QEMU its board
 * file names (TCG only: hardware virtualisation may be missing here), with a blank raw "SSD" and
 * user-mode networking (`restrict=on`: the guest reaches nothing; the one way in is a host forward
 * bound to 127.0.0.1), and waits, every wait bounded, for: GRUB loading the kernel, slot A on the
 * kernel command line, the blank SSD mounted, and `/healthz` answering 200 through the forward.
 * No fleet, camera or update: `make image-test` (firmware/test/image_test.ts) does all of that for
 * generic-arm64; this is for any other board with a "qemu" section (generic-x86_64).
 *
 *   deno run -A firmware/test/boot_smoke.ts --board generic-x86_64 [--boot-timeout-s 900]
 *
 * Run as root after `make image BOARD=<board>`, under the machine's heavy lock
 * (`flock /tmp/nvr-heavy.lock …`). Prints power-on times and ends with
 * `boot-smoke: N passed, M failed` (exit status 1 when any failed).
 */

import {
  type BoardQemu,
  Checks,
  freePort,
  healthz,
  qemuArgs,
  readText,
  run,
  waitFor,
} from "./vm_util.ts";

const args = [...Deno.args];
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};

const repo = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const board = option("--board", "generic-x86_64");
/** generic-arm64 needed 143–322 s to /healthz under TCG here (firmware/README.md); generous. */
const BOOT_DEADLINE_MS = Number(option("--boot-timeout-s", "900")) * 1000;

const checks = new Checks();
const check = checks.check.bind(checks);

async function main(): Promise<void> {
  const boardFile = `${repo}/firmware/boards/${board}.json`;
  const q = (JSON.parse(await Deno.readTextFile(boardFile)) as { qemu?: BoardQemu }).qemu;
  if (!q) throw new Error(`${boardFile} has no "qemu" section: this board cannot be booted here`);
  const outDir = `${repo}/out/${board}`;
  const zst = [...Deno.readDirSync(outDir)].map((e) => e.name)
    .filter((n) => n.endsWith(`-${board}.img.zst`)).sort().at(-1);
  if (!zst) {
    throw new Error(`no out/${board}/nvr-*-${board}.img.zst: run make image BOARD=${board} first`);
  }
  const size = (await Deno.stat(`${outDir}/${zst}`)).size;
  check(
    "compressed image under 400 MiB",
    size < 400 * 2 ** 20,
    `${zst}: ${(size / 2 ** 20).toFixed(1)} MiB`,
  );

  const dir = `${outDir}/smoke`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const image = `${dir}/boot.img`;
  await run("zstd", ["-q", "-d", "-f", `${outDir}/${zst}`, "-o", image]);
  const ssd = `${dir}/ssd.img`;
  await run("truncate", ["-s", "8G", ssd]);
  const vars = `${dir}/vars.fd`;
  await Deno.copyFile(q.firmwareVars, vars);
  const serial = `${dir}/serial.log`;
  await Deno.writeTextFile(serial, "");
  const port = freePort();

  const args = qemuArgs(q, {
    serial,
    vars,
    image,
    ssd,
    net: `hostfwd=tcp:127.0.0.1:${port}-:80`,
  });
  const startedAt = Date.now();
  const since = () => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  const child = new Deno.Command("nice", { args, stdout: "null", stderr: "piped" })
    .spawn();
  const stderr = new Response(child.stderr).text();
  console.log(`QEMU started (${q.system} -M ${q.machine}), serial console in ${serial}`);
  const serialHas = (re: RegExp) => async () => re.test(await readText(serial)) ? true : null;
  try {
    check(
      "GRUB loads the kernel (serial: 'Linux version')",
      (await waitFor(serialHas(/Linux version/), 300_000)) !== null,
      since(),
    );
    check(
      "slot A booted (kernel command line has rauc.slot=A)",
      (await waitFor(serialHas(/Kernel command line:.*rauc\.slot=A/), 60_000)) !== null,
    );
    const body = await waitFor(
      () => healthz(port),
      BOOT_DEADLINE_MS - (Date.now() - startedAt),
      2000,
    );
    check("/healthz answers 200 through the 127.0.0.1 forward", body !== null, since());
    if (body !== null) console.log(`power-on to /healthz 200: ${since()} (${body.trim()})`);
    check(
      "blank SSD formatted and mounted at /mnt/ssd (serial: Mounted mnt-ssd.mount)",
      /Mounted.*mnt-ssd\.mount|Mounted.*\/mnt\/ssd/.test(await readText(serial)),
    );
    // systemd colours "[FAILED]" on the console, so match the word, as image_test.ts does.
    const failedUnits = (await readText(serial)).split("\n")
      .filter((l) => /Failed to start|FAILED/.test(l));
    check("no failed unit on the console", failedUnits.length === 0, failedUnits.join(" | "));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    const status = await child.status;
    const err = (await stderr).trim();
    if (err) console.log(`QEMU stderr (exit ${status.code}): ${err}`);
  }
  console.log(`boot-smoke: ${checks.passed} passed, ${checks.failed} failed`);
  if (checks.failed > 0) Deno.exit(1);
}

await main();
