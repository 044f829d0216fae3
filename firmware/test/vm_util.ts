/**
 * What the QEMU image checks share (image_test.ts, boot_smoke.ts): running a host tool, a free
 * loopback port for a forward, bounded polling, and the box's /healthz through that forward.
 */

/** Runs a host tool; its stdout, or an error with its stderr. */
export async function run(cmd: string, cmdArgs: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args: cmdArgs, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${cmdArgs.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until `probe` gives a value, polling every `everyMs`, for at most `deadlineMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | null>,
  deadlineMs: number,
  everyMs = 1000,
): Promise<T | null> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return null;
}

/** A file's text, or "" when it cannot be read (a serial log not written yet). */
export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** The body of /healthz through a forwarded port when it answers 200, else null. */
export async function healthz(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(3000),
    });
    const body = await res.text();
    return res.status === 200 ? body : null;
  } catch {
    return null;
  }
}

/**
 * Checks counted and printed one a line ("ok  " or "FAIL", with the seconds since `startMs` when
 * given), for the closing `N passed, M failed` line.
 */
export class Checks {
  passed = 0;
  failed = 0;
  constructor(readonly startMs?: number) {}

  check(name: string, ok: boolean, detail = ""): boolean {
    if (ok) this.passed++;
    else this.failed++;
    const at = this.startMs === undefined
      ? ""
      : `[${((Date.now() - this.startMs) / 1000).toFixed(0).padStart(4)} s] `;
    console.log(`${ok ? "ok  " : "FAIL"} ${at}${name}${detail ? ` — ${detail}` : ""}`);
    return ok;
  }
}

/** A board file's `qemu` section (firmware/boards/<board>.json). */
export interface BoardQemu {
  system: string;
  machine: string;
  cpu: string;
  firmware: string;
  firmwareVars: string;
  memoryMiB: number;
}

/** What one boot of the image under QEMU needs besides the board's section. */
export interface QemuBoot {
  /** The serial console's file, the UEFI variables' copy, the image and the data disk (SSD). */
  readonly serial: string;
  readonly vars: string;
  readonly image: string;
  readonly ssd: string;
  /** A third disk, e.g. a second SSD; null: none. */
  readonly extraDisk?: string | null;
  /** SMBIOS type 1 serial (the board serial the fingerprint reads). */
  readonly smbiosSerial?: string;
  /** The user-mode network's options after `user,id=net0,restrict=on,` (host forwards). */
  readonly net: string;
}

/**
 * `nice` arguments for one TCG boot: 2 vCPUs, UEFI from pflash, boot disk and SSD on virtio.
 *
 * The disks are `cache=unsafe`: QEMU still writes every block the guest writes into the image file
 * at once (what the host's tests read, e.g. the power cut's superblock check, and what a killed
 * QEMU leaves behind: the host's page cache outlives the process), but the guest's flushes are not
 * turned into fdatasync on the host. On a host shared with other work an fdatasync of RAUC's
 * 1.5 GiB slot write, or of each SQLite commit, waits for the host's whole disk queue; the test
 * never simulates the host losing its page cache, so nothing it checks depends on those syncs.
 */
export function qemuArgs(q: BoardQemu, b: QemuBoot): string[] {
  const disk = "format=raw,cache=unsafe";
  return [
    "-n",
    "10",
    q.system,
    ...["-machine", q.machine, "-accel", "tcg", "-cpu", q.cpu, "-smp", "2"],
    ...["-m", String(q.memoryMiB), "-display", "none", "-monitor", "none"],
    ...["-serial", `file:${b.serial}`],
    ...["-drive", `if=pflash,format=raw,readonly=on,file=${q.firmware}`],
    ...["-drive", `if=pflash,format=raw,file=${b.vars}`],
    ...["-drive", `if=none,id=boot,${disk},file=${b.image}`],
    ...["-device", "virtio-blk-pci,drive=boot,bootindex=0"],
    ...["-drive", `if=none,id=ssd,${disk},file=${b.ssd}`],
    ...["-device", "virtio-blk-pci,drive=ssd"],
    ...(b.extraDisk
      ? [
        ...["-drive", `if=none,id=extra,${disk},file=${b.extraDisk}`],
        ...["-device", "virtio-blk-pci,drive=extra"],
      ]
      : []),
    ...(b.smbiosSerial ? ["-smbios", `type=1,serial=${b.smbiosSerial}`] : []),
    ...["-netdev", `user,id=net0,restrict=on,${b.net}`],
    ...["-device", "virtio-net-pci,netdev=net0"],
  ];
}
