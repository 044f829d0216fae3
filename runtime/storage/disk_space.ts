/**
 * Size and free space of the filesystem holding a path, through statvfs(3) in glibc over FFI.
 *
 * struct statvfs on LP64 glibc (x86_64 and aarch64 share the generic layout; it is also
 * statvfs64 there): unsigned long f_bsize @0, f_frsize @8; fsblkcnt_t f_blocks @16, f_bfree @24,
 * f_bavail @32; fsfilcnt_t f_files @40, f_ffree @48, f_favail @56; unsigned long f_fsid @64,
 * f_flag @72, f_namemax @80; int __f_spare[6] @88; 112 bytes in all.
 */

export interface DiskSpace {
  /** Size of the filesystem. */
  readonly totalBytes: number;
  /** Free, including blocks reserved for root. */
  readonly freeBytes: number;
  /** Free for an unprivileged writer (what `df` calls Available). */
  readonly availableBytes: number;
}

const LIBC = "libc.so.6";
const STRUCT_BYTES = 112;
const OFFSET = { frsize: 8, blocks: 16, bfree: 24, bavail: 32 } as const;

const SYMBOLS = {
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** statvfs failed for a path; `errno` is the C error number. */
export class DiskSpaceError extends Error {
  readonly path: string;
  readonly errno: number;
  constructor(path: string, errno: number, reason: string) {
    super(
      `Cannot read the free space of '${path}': ${reason} (errno ${errno}). ` +
        "Check that the folder exists and that its disk is mounted.",
    );
    this.name = "DiskSpaceError";
    this.path = path;
    this.errno = errno;
  }
}

function assertLp64(): void {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new Error(
      `diskSpace() knows the statvfs layout of 64-bit Linux glibc only, not ` +
        `${Deno.build.os}/${Deno.build.arch}.`,
    );
  }
}

/** Total, free and available bytes of the filesystem holding `path`. Throws DiskSpaceError. */
export function diskSpace(path: string): DiskSpace {
  assertLp64();
  const buf = new Uint8Array(STRUCT_BYTES);
  const cPath = new TextEncoder().encode(path + "\0");
  const lib = Deno.dlopen(LIBC, SYMBOLS);
  try {
    if (lib.symbols.statvfs(cPath, buf) !== 0) {
      const errnoPtr = lib.symbols.__errno_location();
      const errno = errnoPtr ? new Deno.UnsafePointerView(errnoPtr).getInt32() : 0;
      const text = lib.symbols.strerror(errno);
      const reason = text ? new Deno.UnsafePointerView(text).getCString() : "unknown error";
      throw new DiskSpaceError(path, errno, reason);
    }
  } finally {
    lib.close();
  }
  const view = new DataView(buf.buffer);
  const u64 = (offset: number) => Number(view.getBigUint64(offset, true));
  const frsize = u64(OFFSET.frsize);
  return {
    totalBytes: u64(OFFSET.blocks) * frsize,
    freeBytes: u64(OFFSET.bfree) * frsize,
    availableBytes: u64(OFFSET.bavail) * frsize,
  };
}

/**
 * Whether an error means the disk is full, by its kind, never its words: ENOSPC from Deno,
 * SQLITE_FULL from node:sqlite, or an error that says `kind: "disk-full"` (a recording pipeline
 * classifies GStreamer's errors where they arise: gst/messages.ts noSpaceLeft). The recorder then
 * awaits retention's trigger() before it retries.
 */
export function isDiskFull(err: unknown): boolean {
  // An error that wraps another (e.g. StorageUnavailableError around the ENOSPC of its write
  // probe) is a full disk when its cause is.
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 8; depth++) {
    const x = e as { code?: unknown; errcode?: unknown; kind?: unknown; cause?: unknown };
    if (x.code === "ENOSPC" || x.errcode === SQLITE_FULL || x.kind === "disk-full") return true;
    e = x.cause;
  }
  return false;
}

/** node:sqlite's errcode for "database or disk is full". */
const SQLITE_FULL = 13;
