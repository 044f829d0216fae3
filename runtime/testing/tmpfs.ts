/**
 * Test helper: a real small filesystem (tmpfs) for free-space and mount tests. Mounting needs
 * root (CAP_SYS_ADMIN); where it is not permitted, mountTmpfs returns null and tests say so.
 */

export interface Tmpfs extends AsyncDisposable {
  /** The mount point. */
  readonly path: string;
  unmount(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, stderr: new TextDecoder().decode(out.stderr).trim() };
  } catch (err) {
    return { ok: false, stderr: String(err) };
  }
}

/** Mounts a tmpfs of `bytes` at `path` (created if needed); null when mounting is refused. */
export async function mountTmpfs(path: string, bytes: number): Promise<Tmpfs | null> {
  await Deno.mkdir(path, { recursive: true });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path]);
  if (!mounted.ok) {
    console.warn(`tmpfs not mounted at ${path} (${mounted.stderr}); using the fallback`);
    return null;
  }
  let done = false;
  const unmount = async () => {
    if (done) return;
    done = true;
    if (!(await run("umount", [path])).ok) await run("umount", ["-l", path]);
  };
  return { path, unmount, [Symbol.asyncDispose]: unmount };
}
