/**
 * Runs a Deno script in a network namespace of its own (`unshare --net`, loopback up), so a test
 * may bind privileged ports, make veth links or send multicast without touching the machine's
 * network. The script prints one JSON line (starting with `{`); that line is the result.
 */

export interface NetnsOptions {
  /** Shell commands run in the namespace before the script, e.g. multicast on lo. */
  readonly setup?: string;
  /** Added to the error when the run fails, e.g. which package brings a tool it needs. */
  readonly hint?: string;
  readonly timeoutMs?: number;
}

/** The JSON line `script` printed inside its own network namespace. */
export async function runInOwnNetns<T = Record<string, unknown>>(
  script: URL,
  options: NetnsOptions = {},
): Promise<T> {
  const setup = ["ip link set lo up", ...(options.setup ? [options.setup] : [])].join(" && ") +
    ' && exec "$0" run -A --no-prompt "$1"';
  const out = await new Deno.Command("unshare", {
    args: ["--net", "--", "sh", "-c", setup, Deno.execPath(), script.pathname],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  if (!out.success || !line) {
    throw new Error(
      `the namespace run of ${script.pathname} failed (${out.code}` +
        `${options.hint ? `; ${options.hint}` : ""}): ${stdout}\n` +
        new TextDecoder().decode(out.stderr),
    );
  }
  return JSON.parse(line) as T;
}
