/**
 * A linked pair of pseudo-terminals made by socat, for serial port tests: bytes written to one end
 * come out of the other. `port` is the end the code under test opens (like /dev/ttyUSB0); `far`
 * is the device's side, driven by the test through Deno.open (an implementation independent of
 * runtime/serial/). Killing socat is unplugging the device.
 *
 * Needs `socat` on PATH and `-A` (Deno only opens /dev/pts/* with all permissions).
 */

export interface PtyPair extends AsyncDisposable {
  /** The end the code under test opens. */
  readonly port: string;
  /** The device's end. */
  readonly far: string;
  readonly pid: number;
  /** Bytes the far end received so far (everything written to `port`). */
  received(): Uint8Array;
  /** Writes bytes to the far end (they come out of `port`). */
  send(bytes: Uint8Array | string): Promise<void>;
  /** Resolves once the far end received at least `n` bytes; rejects after `timeoutMs`. */
  waitReceived(n: number, timeoutMs?: number): Promise<Uint8Array>;
  /** Unplugs: SIGKILL to socat and the port link removed; resolves once it is gone. */
  unplug(): Promise<void>;
  /** Unplugs if not yet, closes the far end, removes the links. Idempotent. */
  stop(): Promise<void>;
}

/** Starts socat with two raw ptys; resolves once both links exist (bounded by `timeoutMs`). */
export async function startPtyPair(timeoutMs = 10_000): Promise<PtyPair> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-pty-pair-" });
  const port = `${dir}/port`;
  const far = `${dir}/far`;
  const child = new Deno.Command("socat", {
    args: [`pty,raw,echo=0,link=${port}`, `pty,raw,echo=0,link=${far}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const deadline = performance.now() + timeoutMs;
  const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
  while (!(await exists(port) && await exists(far))) {
    if (exited || performance.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      await Deno.remove(dir, { recursive: true });
      throw new Error(`socat did not create ${port} and ${far} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // Two files: a Deno FsFile serialises its operations (a pending read holds back a write).
  const writer = await Deno.open(far, { write: true });
  const reader = await Deno.open(far, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  const pump = (async () => {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await reader.read(buf);
        if (n === null) return;
        chunks.push(buf.slice(0, n));
        total += n;
      }
    } catch { /* EIO once socat is gone */ }
  })();
  const received = () => {
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  };
  const unplug = async () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await status;
    // The node goes with the device (udev removes it): a link left behind names /dev/pts/N,
    // which the kernel hands to the next pty made on this machine, another test's.
    await Deno.remove(port).catch(() => {});
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await unplug();
      await pump; // the pending read ends with EIO once the master is closed
      writer.close();
      reader.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return {
    port,
    far,
    pid: child.pid,
    received,
    async send(bytes) {
      const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
      for (let off = 0; off < data.length;) off += await writer.write(data.subarray(off));
    },
    async waitReceived(n, ms = 10_000) {
      const until = performance.now() + ms;
      while (total < n) {
        if (performance.now() > until) {
          throw new Error(`far end received ${total} of ${n} bytes within ${ms} ms`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return received();
    },
    unplug,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** `stty -F <path> -a`, for checking what the kernel holds independently of runtime/serial/. */
export async function sttyAll(path: string): Promise<string> {
  const out = await new Deno.Command("stty", { args: ["-F", path, "-a"] }).output();
  if (!out.success) throw new Error(`stty -F ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}
