/** ffmpeg as an independent RTSP client, for tests that check what a camera really sends. */

export interface CommandOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command, killing it after `timeoutMs`. */
export async function runCommand(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<CommandOutput> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null", signal: ac.signal }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Records `seconds` of an RTSP stream over TCP into `out` without re-encoding. */
export function recordRtsp(url: string, out: string, seconds: number): Promise<CommandOutput> {
  return runCommand("ffmpeg", [
    "-v",
    "error",
    "-rtsp_transport",
    "tcp",
    "-i",
    url,
    "-t",
    String(seconds),
    "-c",
    "copy",
    "-y",
    out,
  ], seconds * 1000 + 15_000);
}
