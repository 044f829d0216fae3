// The termios layout and constants against C: a probe compiled here with the host's cc (when there
// is one), and the probe's output for aarch64 (glibc 2.36, cross-compiled and run under
// qemu-aarch64, kept in testdata/). Then how settings land in c_cflag/c_iflag, which ptys can't
// show for data bits and parity.
import { assert, assertEquals } from "../testing/assert.ts";
import * as libc from "./libc.ts";
import {
  applyLineSettings,
  BAUD_CODES,
  CBAUD,
  CLOCAL,
  CREAD,
  CRTSCTS,
  CSIZE,
  CSTOPB,
  HUPCL,
  IXANY,
  IXOFF,
  IXON,
  lineSettings,
  PARENB,
  PARODD,
  readBack,
  TERMIOS,
  termiosField,
  VMIN,
  VTIME,
} from "./termios.ts";

/** What the TypeScript side hard-codes, under the probe's names. */
function ours(): Record<string, number> {
  const t: Record<string, number> = {
    size: TERMIOS.size,
    off_c_iflag: TERMIOS.iflag,
    off_c_oflag: TERMIOS.oflag,
    off_c_cflag: TERMIOS.cflag,
    off_c_lflag: TERMIOS.lflag,
    off_c_line: TERMIOS.line,
    off_c_cc: TERMIOS.cc,
    off_c_ispeed: TERMIOS.ispeed,
    off_c_ospeed: TERMIOS.ospeed,
    VTIME,
    VMIN,
    IXON,
    IXANY,
    IXOFF,
    CBAUD,
    CSIZE,
    CSTOPB,
    CREAD,
    PARENB,
    PARODD,
    HUPCL,
    CLOCAL,
    CRTSCTS,
    O_RDWR: libc.O_RDWR,
    O_NOCTTY: libc.O_NOCTTY,
    O_NONBLOCK: libc.O_NONBLOCK,
    O_CLOEXEC: libc.O_CLOEXEC,
    POLLIN: libc.POLLIN,
    POLLOUT: libc.POLLOUT,
    POLLERR: libc.POLLERR,
    POLLHUP: libc.POLLHUP,
    POLLNVAL: libc.POLLNVAL,
    TIOCEXCL: libc.TIOCEXCL,
    TIOCMGET: libc.TIOCMGET,
    TIOCMBIS: libc.TIOCMBIS,
    TIOCMBIC: libc.TIOCMBIC,
    TIOCSBRK: libc.TIOCSBRK,
    TIOCCBRK: libc.TIOCCBRK,
    TIOCM_DTR: libc.TIOCM_DTR,
    TIOCM_RTS: libc.TIOCM_RTS,
    TIOCM_CTS: libc.TIOCM_CTS,
    TIOCM_CAR: libc.TIOCM_CAR,
    TIOCM_DSR: libc.TIOCM_DSR,
    TCSANOW: libc.TCSANOW,
    TCIFLUSH: libc.TCIFLUSH,
    TCOFLUSH: libc.TCOFLUSH,
    TCIOFLUSH: libc.TCIOFLUSH,
    LOCK_EX: libc.LOCK_EX,
    LOCK_NB: libc.LOCK_NB,
    "sizeof(struct pollfd)": 8,
    "offsetof(struct pollfd, events)": 4,
    "offsetof(struct pollfd, revents)": 6,
    cflag_after_cfsetospeed_B115200: BAUD_CODES.get(115200)!,
  };
  for (const [name, code] of Object.entries(libc.errno)) t[name] = code;
  for (const [rate, code] of BAUD_CODES) t[`B${rate}`] = code;
  return t;
}

function compare(probe: Record<string, number>, where: string): void {
  const wrong: string[] = [];
  for (const [name, value] of Object.entries(ours())) {
    if (probe[name] !== value) wrong.push(`${name}: ours ${value}, ${where} ${probe[name]}`);
  }
  assertEquals(wrong, []);
}

const PROBE_C = new URL("./testdata/layout_probe.c", import.meta.url).pathname;

async function hasCc(): Promise<boolean> {
  try {
    return (await new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "termios layout and constants equal this machine's C headers (compiled probe)",
  ignore: !(await hasCc()),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const cc = await new Deno.Command("cc", { args: ["-o", `${dir}/probe`, PROBE_C] }).output();
      assert(cc.success, new TextDecoder().decode(cc.stderr));
      const run = await new Deno.Command(`${dir}/probe`).output();
      assert(run.success);
      compare(JSON.parse(new TextDecoder().decode(run.stdout)), `${Deno.build.arch} C`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("termios layout and constants equal aarch64 glibc's (probe output kept in testdata)", async () => {
  const text = await Deno.readTextFile(
    new URL("./testdata/layout_aarch64_glibc236.json", import.meta.url),
  );
  compare(JSON.parse(text), "aarch64 C");
});

Deno.test("line settings land in c_cflag/c_iflag as asked (what ptys can't show)", () => {
  const lib = libc.openLibc();
  try {
    const cases = [
      { baudRate: 1200, dataBits: 7, parity: "even", stopBits: 1 },
      { baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1 },
      { baudRate: 19200, dataBits: 8, parity: "odd", stopBits: 2 },
      { baudRate: 57600, dataBits: 5, parity: "none", stopBits: 1, rtscts: true },
      { baudRate: 115200, dataBits: 6, parity: "even", stopBits: 2, xon: true, xoff: true },
      { baudRate: 921600, dataBits: 8, parity: "none", stopBits: 1 },
    ] as const;
    for (const c of cases) {
      const t = new Uint8Array(TERMIOS.size).fill(0xff); // garbage in: every flag must be set
      applyLineSettings(lib.c, t, lineSettings("/dev/test", c));
      const back = readBack(t);
      assertEquals(back, {
        baudRate: c.baudRate,
        dataBits: c.dataBits,
        parity: c.parity,
        stopBits: c.stopBits,
        rtscts: "rtscts" in c ? c.rtscts : false,
        xon: "xon" in c ? c.xon : false,
        xoff: "xoff" in c ? c.xoff : false,
      });
      const cflag = termiosField(t, TERMIOS.cflag);
      assert((cflag & (CREAD | CLOCAL | HUPCL)) === (CREAD | CLOCAL | HUPCL), "CREAD|CLOCAL|HUPCL");
      assertEquals(termiosField(t, TERMIOS.iflag) & IXANY, 0);
      assertEquals(termiosField(t, TERMIOS.lflag) & 0o2, 0, "ICANON off (cfmakeraw)");
      assertEquals([t[TERMIOS.cc + VMIN], t[TERMIOS.cc + VTIME]], [1, 0]);
    }
  } finally {
    lib.close();
  }
});
