/**
 * Ctrl-C for the demo alone. A terminal sends SIGINT to its whole foreground process group:
 * under `make run` that is make too, and GNU make, hit by SIGINT, waits for its child and then
 * kills itself with SIGINT (exit status 130, measured with make 4.3 in a pty) however cleanly
 * the demo stopped. So the demo moves into its own process group and makes that the terminal's
 * foreground group: Ctrl-C reaches only the demo, which stops everything in order and exits 0,
 * and make with it. `release()` hands the terminal back to the group it came from.
 *
 * Linux only (libc through FFI); anywhere else, or without a terminal on stdin, it does nothing.
 */

const SIGTTOU = 22;
const SIG_IGN = 1n;

export interface Foreground {
  /** Gives the terminal back to the process group that had it. Safe to call twice. */
  release(): void;
}

export function takeTerminal(): Foreground {
  const none: Foreground = { release() {} };
  if (Deno.build.os !== "linux" || !Deno.stdin.isTerminal()) return none;
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      setpgid: { parameters: ["i32", "i32"], result: "i32" },
      getpgrp: { parameters: [], result: "i32" },
      tcgetpgrp: { parameters: ["i32"], result: "i32" },
      tcsetpgrp: { parameters: ["i32", "i32"], result: "i32" },
      signal: { parameters: ["i32", "pointer"], result: "pointer" },
    });
  } catch {
    return none;
  }
  const lib = libc.symbols;
  const before = lib.tcgetpgrp(0);
  // A process outside the foreground group that sets the foreground group gets SIGTTOU, which
  // would stop it: ignore it (children inherit this; none of them sets the foreground group).
  lib.signal(SIGTTOU, Deno.UnsafePointer.create(SIG_IGN));
  if (before < 0 || lib.setpgid(0, 0) !== 0 || lib.tcsetpgrp(0, lib.getpgrp()) !== 0) {
    libc.close();
    return none;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      lib.tcsetpgrp(0, before);
      libc.close();
    },
  };
}
