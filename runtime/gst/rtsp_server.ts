/**
 * GStreamer's RTSP server (libgstrtspserver-1.0) for the virtual cameras, on top of the one
 * GStreamer binding (ffi.ts: GLib, GObject and GStreamer symbols, opened once per process); only
 * the RTSP server library's own symbols are bound here.
 *
 * Only non-variadic C functions are bound (Deno FFI has no varargs); tokens and
 * role permissions are therefore built with gst_rtsp_token_set_string() and
 * gst_structure_from_string() + gst_rtsp_media_factory_add_role_from_structure().
 *
 * Main loop choice, measured on the 2-core dev box (GStreamer 1.22, Deno 2.9.6),
 * 200 sequential RTSP OPTIONS round trips (new TCP connection each) + 5 s idle:
 *   "thread": median 0.21 ms, p95 0.57 ms, idle CPU 0.00 %
 *   "poll" (10 ms timer): median 10.65 ms, p95 11.97 ms, idle CPU 0.80 %
 * so the default is "thread": g_main_loop_run() bound with `nonblocking: true`
 * runs on a Deno worker thread and the JS thread stays free; g_main_loop_quit()
 * (thread-safe) ends it. Its one trap: a quit that lands before the worker has
 * entered g_main_loop_run() is lost (the loop then runs forever) — seen within a
 * few start/stop cycles; quitLoop() handles it (200 start/stop cycles: 0 hangs).
 * "poll" (a JS timer calling g_main_context_iteration(ctx, FALSE)) is kept as a
 * fallback: every accept waits for the next tick and idle wakeups cost CPU.
 * Only the server's listening socket lives on our GMainContext: gst-rtsp-server
 * serves every client and every media pipeline from its own thread pool, so the
 * loop mode affects accepting connections only.
 */

import {
  cstr,
  type GlibSymbols,
  type GobjectSymbols,
  type GstSymbols,
  openGst as openGstLibrary,
  readOutPointer,
} from "./ffi.ts";

export { cstr };

const LIB_RTSP_SERVER = "libgstrtspserver-1.0.so.0";

const RTSP_SYMBOLS = {
  gst_rtsp_server_new: { parameters: [], result: "pointer" },
  gst_rtsp_server_set_address: { parameters: ["pointer", "buffer"], result: "void" },
  gst_rtsp_server_set_service: { parameters: ["pointer", "buffer"], result: "void" },
  gst_rtsp_server_get_bound_port: { parameters: ["pointer"], result: "i32" },
  gst_rtsp_server_get_mount_points: { parameters: ["pointer"], result: "pointer" },
  gst_rtsp_server_get_session_pool: { parameters: ["pointer"], result: "pointer" },
  gst_rtsp_server_set_auth: { parameters: ["pointer", "pointer"], result: "void" },
  gst_rtsp_server_attach: { parameters: ["pointer", "pointer"], result: "u32" },
  gst_rtsp_server_client_filter: {
    parameters: ["pointer", "function", "pointer"],
    result: "pointer",
  },
  gst_rtsp_session_pool_cleanup: { parameters: ["pointer"], result: "u32" },
  gst_rtsp_mount_points_add_factory: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "void",
  },
  gst_rtsp_media_factory_new: { parameters: [], result: "pointer" },
  gst_rtsp_media_factory_set_launch: { parameters: ["pointer", "buffer"], result: "void" },
  gst_rtsp_media_factory_set_shared: { parameters: ["pointer", "i32"], result: "void" },
  gst_rtsp_media_factory_set_publish_clock_mode: {
    parameters: ["pointer", "i32"],
    result: "void",
  },
  gst_rtsp_media_factory_add_role_from_structure: {
    parameters: ["pointer", "pointer"],
    result: "void",
  },
  gst_rtsp_auth_new: { parameters: [], result: "pointer" },
  gst_rtsp_auth_make_basic: { parameters: ["buffer", "buffer"], result: "pointer" },
  gst_rtsp_auth_add_basic: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  gst_rtsp_auth_add_digest: {
    parameters: ["pointer", "buffer", "buffer", "pointer"],
    result: "void",
  },
  gst_rtsp_auth_set_supported_methods: { parameters: ["pointer", "i32"], result: "void" },
  gst_rtsp_auth_set_realm: { parameters: ["pointer", "buffer"], result: "void" },
  gst_rtsp_token_new_empty: { parameters: [], result: "pointer" },
  gst_rtsp_token_set_string: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libraries: the one GStreamer binding (ffi.ts) plus the RTSP server library. */
export interface GstFfi {
  readonly glib: GlibSymbols;
  readonly gobject: GobjectSymbols;
  readonly gst: GstSymbols;
  readonly rtsp: Deno.DynamicLibrary<typeof RTSP_SYMBOLS>["symbols"];
  /** GStreamer version, e.g. "GStreamer 1.22.0". */
  readonly version: string;
  /** Closes the RTSP server library (GStreamer itself stays open for the process). */
  close(): void;
}

// C enum values (gstelement.h, gstmessage.h, gstrtspdefs.h, rtsp-session.h).
const GST_STATE_NULL = 1;
const GST_STATE_PLAYING = 4;
const GST_STATE_CHANGE_FAILURE = 0;
const GST_MESSAGE_EOS = 1 << 0;
const GST_MESSAGE_ERROR = 1 << 1;
/** Offset of GstMessage.type: it follows the 64-byte GstMiniObject on 64-bit Linux. */
const GST_MESSAGE_TYPE_OFFSET = 64;
/** Offset of GError.message: after GQuark domain (u32) and gint code. */
const GERROR_MESSAGE_OFFSET = 8;
const GST_RTSP_AUTH_BASIC = 1;
const GST_RTSP_AUTH_DIGEST = 2;
const GST_RTSP_FILTER_REMOVE = 0;
/** GstRTSPPublishClockMode (rtsp-media.h): publish the clock and the RTP offset. */
const GST_RTSP_PUBLISH_CLOCK_MODE_CLOCK_AND_OFFSET = 2;
const TOKEN_ROLE_FIELD = "media.factory.role";
const AUTH_ROLE = "user";

/** Reads and frees a GError* written into `out`; returns its message or null. */
function takeGError(ffi: GstFfi, out: BigUint64Array<ArrayBuffer>): string | null {
  const err = readOutPointer(out);
  if (err === null) return null;
  const view = new Deno.UnsafePointerView(err);
  const msgPtr = view.getPointer(GERROR_MESSAGE_OFFSET);
  const message = msgPtr === null ? "(no message)" : Deno.UnsafePointerView.getCString(msgPtr);
  ffi.glib.g_error_free(err);
  return message;
}

/**
 * Opens GStreamer through the one binding (ffi.ts, initialised once per process) and the RTSP
 * server library beside it. Needs `--allow-ffi`.
 */
export function openGst(): GstFfi {
  const base = openGstLibrary();
  let rtsp: Deno.DynamicLibrary<typeof RTSP_SYMBOLS>;
  try {
    rtsp = Deno.dlopen(LIB_RTSP_SERVER, RTSP_SYMBOLS);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `cannot load GStreamer RTSP server via FFI (${msg}). Install it with ` +
        "`apt-get install gstreamer1.0-rtsp libgstrtspserver-1.0-0 gstreamer1.0-plugins-good " +
        "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly` and run Deno with --allow-ffi.",
    );
  }
  return {
    glib: base.glib,
    gobject: base.gobject,
    gst: base.gst,
    rtsp: rtsp.symbols,
    version: base.version,
    close: () => rtsp.close(),
  };
}

/**
 * Parses a gst-launch style description once (building and freeing the
 * elements) so a typo or a missing plugin is reported at start-up instead of
 * when the first RTSP client connects. Throws with GStreamer's message.
 */
export function validateLaunch(ffi: GstFfi, launch: string): void {
  const err = new BigUint64Array(1);
  const el = ffi.gst.gst_parse_launch(cstr(launch), new Uint8Array(err.buffer));
  const message = takeGError(ffi, err);
  if (el !== null) {
    ffi.gst.gst_object_ref_sink(el);
    ffi.gst.gst_object_unref(el);
  }
  if (message !== null || el === null) {
    throw new Error(
      `invalid GStreamer pipeline "${launch}": ${message ?? "gst_parse_launch returned NULL"}. ` +
        "Check the element names with `gst-inspect-1.0 <element>` and install the missing plugin package.",
    );
  }
}

/**
 * Runs a finite pipeline (e.g. `videotestsrc num-buffers=1 ! jpegenc ! filesink location=…`)
 * to EOS on GStreamer's own threads; the bus wait runs on a Deno worker thread.
 * Rejects with GStreamer's error message, or after `timeoutMs`.
 */
export async function runPipelineOnce(
  ffi: GstFfi,
  launch: string,
  timeoutMs: number,
): Promise<void> {
  const err = new BigUint64Array(1);
  const pipeline = ffi.gst.gst_parse_launch(cstr(launch), new Uint8Array(err.buffer));
  const parseError = takeGError(ffi, err);
  if (pipeline === null || parseError !== null) {
    if (pipeline !== null) {
      ffi.gst.gst_object_ref_sink(pipeline);
      ffi.gst.gst_object_unref(pipeline);
    }
    throw new Error(`invalid one-off pipeline "${launch}": ${parseError ?? "NULL"}`);
  }
  ffi.gst.gst_object_ref_sink(pipeline);
  const bus = ffi.gst.gst_element_get_bus(pipeline);
  try {
    if (ffi.gst.gst_element_set_state(pipeline, GST_STATE_PLAYING) === GST_STATE_CHANGE_FAILURE) {
      throw new Error(
        `one-off pipeline "${launch}" failed to start (state change to PLAYING failed)`,
      );
    }
    const timeoutNs = BigInt(Math.max(1, Math.round(timeoutMs))) * 1_000_000n;
    const msg = await ffi.gst.gst_bus_timed_pop_filtered_nb(
      bus,
      timeoutNs,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR,
    );
    if (msg === null) {
      throw new Error(`one-off pipeline "${launch}" did not finish within ${timeoutMs} ms`);
    }
    const type = new Deno.UnsafePointerView(msg).getUint32(GST_MESSAGE_TYPE_OFFSET);
    let failure: string | null = null;
    if (type === GST_MESSAGE_ERROR) {
      const gerr = new BigUint64Array(1);
      ffi.gst.gst_message_parse_error(msg, new Uint8Array(gerr.buffer), null);
      failure = takeGError(ffi, gerr) ?? "unknown error";
    }
    ffi.gst.gst_mini_object_unref(msg);
    if (failure !== null) throw new Error(`one-off pipeline "${launch}" failed: ${failure}`);
  } finally {
    ffi.gst.gst_element_set_state(pipeline, GST_STATE_NULL);
    if (bus !== null) ffi.gst.gst_object_unref(bus);
    ffi.gst.gst_object_unref(pipeline);
  }
}

/**
 * Stops a g_main_loop_run() running on a worker thread. g_main_loop_quit() is
 * lost if it lands before the worker has entered g_main_loop_run() (run sets
 * is_running = TRUE on entry) — measured: a start immediately followed by stop
 * hung within a few cycles. So quit only once the loop reports running, and
 * repeat until the run call has returned.
 */
async function quitLoop(
  ffi: GstFfi,
  loop: Deno.PointerValue,
  running: Promise<void>,
): Promise<void> {
  let done = false;
  const finished = running.then(() => {
    done = true;
  });
  while (!done) {
    if (ffi.glib.g_main_loop_is_running(loop) !== 0) ffi.glib.g_main_loop_quit(loop);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([finished, new Promise<void>((r) => timer = setTimeout(r, 2))]);
    clearTimeout(timer);
  }
}

/**
 * One mount point: `path` ("/main") served from a gst-launch `launch` string, live: a PLAY's Range
 * never seeks it (see addFactory for why).
 */
export interface RtspMount {
  readonly path: string;
  /** Payloaders must be named pay0, pay1, … (gst-rtsp-server convention). */
  readonly launch: string;
  /** Share one pipeline (one encoder) between all clients. Default true. */
  readonly shared?: boolean;
}

export type RtspAuthMethod = "basic" | "digest";

/** Credentials required for every mount (RTSP 401 otherwise). */
export interface RtspAuth {
  readonly user: string;
  readonly password: string;
  /** Default ["basic", "digest"] (two WWW-Authenticate headers, as real cameras send). */
  readonly methods?: readonly RtspAuthMethod[];
  readonly realm?: string;
}

/** "thread": nonblocking g_main_loop_run on a worker thread; "poll": timer + iteration. */
export type MainLoopMode = "thread" | "poll";

export interface RtspServerOptions {
  /** TCP port; 0 lets the OS pick (read the result from `port`). */
  readonly port: number;
  /** Listen address, default "127.0.0.1". */
  readonly address?: string;
  readonly mounts: readonly RtspMount[];
  readonly auth?: RtspAuth;
  /** Default "thread" (see the module comment for why). */
  readonly loopMode?: MainLoopMode;
  /** Timer period for loopMode "poll", default 10 ms. */
  readonly pollIntervalMs?: number;
  /** Parse every launch string at start-up (default true). */
  readonly validate?: boolean;
}

export interface RtspServer {
  readonly port: number;
  readonly address: string;
  readonly loopMode: MainLoopMode;
  /** "rtsp://address:port/path" (without credentials). */
  urlFor(path: string): string;
  /** Closes every connected RTSP client; returns how many there were. */
  closeClients(): number;
  /** Detaches the server, stops the loop and frees it. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function makeToken(ffi: GstFfi): Deno.PointerValue {
  const token = ffi.rtsp.gst_rtsp_token_new_empty();
  ffi.rtsp.gst_rtsp_token_set_string(token, cstr(TOKEN_ROLE_FIELD), cstr(AUTH_ROLE));
  return token;
}

function makeAuth(ffi: GstFfi, auth: RtspAuth): Deno.PointerValue {
  const methods = auth.methods ?? ["basic", "digest"];
  if (methods.length === 0) {
    throw new Error('RtspAuth.methods is empty: give "basic" and/or "digest"');
  }
  const a = ffi.rtsp.gst_rtsp_auth_new();
  const token = makeToken(ffi);
  let mask = 0;
  if (methods.includes("basic")) {
    mask |= GST_RTSP_AUTH_BASIC;
    const basic = ffi.rtsp.gst_rtsp_auth_make_basic(cstr(auth.user), cstr(auth.password));
    ffi.rtsp.gst_rtsp_auth_add_basic(a, basic, token);
    ffi.glib.g_free(basic);
  }
  if (methods.includes("digest")) {
    mask |= GST_RTSP_AUTH_DIGEST;
    ffi.rtsp.gst_rtsp_auth_add_digest(a, cstr(auth.user), cstr(auth.password), token);
  }
  ffi.rtsp.gst_rtsp_auth_set_supported_methods(a, mask);
  if (auth.realm !== undefined) ffi.rtsp.gst_rtsp_auth_set_realm(a, cstr(auth.realm));
  ffi.gst.gst_mini_object_unref(token); // add_basic/add_digest keep their own ref
  return a;
}

function addFactory(ffi: GstFfi, mounts: Deno.PointerValue, m: RtspMount, withAuth: boolean): void {
  if (!m.path.startsWith("/")) {
    throw new Error(`RTSP mount path must start with "/": got "${m.path}"`);
  }
  const f = ffi.rtsp.gst_rtsp_media_factory_new();
  // gst-rtsp-server wants the description wrapped in ( ) when it is a bin.
  ffi.rtsp.gst_rtsp_media_factory_set_launch(f, cstr(`( ${m.launch} )`));
  ffi.rtsp.gst_rtsp_media_factory_set_shared(f, (m.shared ?? true) ? 1 : 0);
  // Live, like a camera: no PLAY ever seeks the pipeline. GStreamer 1.22 asks the pipeline
  // (rtsp-media.c check_seekable(), l. 808), and videotestsrc/audiotestsrc say "seekable" even when
  // live, so each PLAY with `Range: npt=0.000-` (our recorder's, ffmpeg's) that found the stream
  // past 0 ran a flushing seek on the shared pipeline (seek_trickmode(), l. 2945). The flush drops
  // every pad's SEGMENT; the live pipeline's ASYNC_DONE marks the media prepared again (l. 3377)
  // before the encoder's next frame brings a new one (x265enc even restarts after a flush), so
  // handle_play_request() (rtsp-client.c l. 2178) found a stream without a segment in
  // gst_rtsp_media_get_rates() and aborted in `g_assert (FALSE)` (rtsp-media.c l. 2766) — under
  // load, within a few rounds of 8 clients; or the seek stalled the mount for every client.
  // Streams that publish clock *and offset* are never seekable (check_seekable(), l. 825); with the
  // system clock the SDP stays the same (rtsp-sdp.c l. 317), and PAUSE gets 501, as on many cameras.
  ffi.rtsp.gst_rtsp_media_factory_set_publish_clock_mode(
    f,
    GST_RTSP_PUBLISH_CLOCK_MODE_CLOCK_AND_OFFSET,
  );
  if (withAuth) {
    const role = ffi.gst.gst_structure_from_string(
      cstr(
        `${AUTH_ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true`,
      ),
      null,
    );
    if (role === null) throw new Error("gst_structure_from_string failed for the RTSP auth role");
    ffi.rtsp.gst_rtsp_media_factory_add_role_from_structure(f, role); // copies
    ffi.gst.gst_structure_free(role);
  }
  ffi.rtsp.gst_rtsp_mount_points_add_factory(mounts, cstr(m.path), f); // takes f
}

/**
 * Creates, configures and starts an RTSP server. Binding happens synchronously,
 * so a busy port throws here. Call `stop()` (or `await using`) to shut it down.
 */
export function startRtspServer(ffi: GstFfi, opts: RtspServerOptions): RtspServer {
  const address = opts.address ?? "127.0.0.1";
  const loopMode = opts.loopMode ?? "thread";
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`RTSP port must be an integer 0..65535, got ${opts.port}`);
  }
  if (opts.mounts.length === 0) throw new Error("startRtspServer needs at least one mount");
  if (opts.validate ?? true) { for (const m of opts.mounts) validateLaunch(ffi, m.launch); }

  const server = ffi.rtsp.gst_rtsp_server_new();
  ffi.rtsp.gst_rtsp_server_set_address(server, cstr(address));
  ffi.rtsp.gst_rtsp_server_set_service(server, cstr(String(opts.port)));
  const mounts = ffi.rtsp.gst_rtsp_server_get_mount_points(server);
  try {
    for (const m of opts.mounts) addFactory(ffi, mounts, m, opts.auth !== undefined);
  } finally {
    ffi.gobject.g_object_unref(mounts);
  }
  if (opts.auth !== undefined) {
    const auth = makeAuth(ffi, opts.auth);
    ffi.rtsp.gst_rtsp_server_set_auth(server, auth);
    ffi.gobject.g_object_unref(auth);
  }

  const ctx = ffi.glib.g_main_context_new();
  const sourceId = ffi.rtsp.gst_rtsp_server_attach(server, ctx);
  if (sourceId === 0) {
    ffi.gobject.g_object_unref(server);
    ffi.glib.g_main_context_unref(ctx);
    throw new Error(
      `RTSP server cannot listen on ${address}:${opts.port} (port in use or address not local). ` +
        "Pick another --rtsp-port (see freePort() in hw-tests/sim/ports.ts) or stop the other process.",
    );
  }
  const port = ffi.rtsp.gst_rtsp_server_get_bound_port(server);
  const loop = ffi.glib.g_main_loop_new(ctx, 0);

  let running: Promise<void>;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  if (loopMode === "thread") {
    running = ffi.glib.g_main_loop_run(loop);
  } else {
    const interval = opts.pollIntervalMs ?? 10;
    pollTimer = setInterval(() => {
      // Drain everything that is ready, bounded so a busy context cannot starve JS.
      for (let i = 0; i < 64 && ffi.glib.g_main_context_iteration(ctx, 0) !== 0; i++) {
        /* drain */
      }
    }, interval);
    running = Promise.resolve();
  }
  // Expire sessions of clients that vanished without TEARDOWN (the C examples do
  // this with g_timeout_add_seconds(2, …)). Thread-safe: the pool has its own lock.
  const pool = ffi.rtsp.gst_rtsp_server_get_session_pool(server);
  const cleanupTimer = setInterval(() => ffi.rtsp.gst_rtsp_session_pool_cleanup(pool), 2000);
  Deno.unrefTimer(cleanupTimer);

  let stopped: Promise<void> | null = null;
  const closeClients = (): number => {
    // Invoked synchronously on this (JS) thread by gst_rtsp_server_client_filter.
    let count = 0;
    const cb = new Deno.UnsafeCallback(
      { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const,
      () => {
        count++;
        return GST_RTSP_FILTER_REMOVE;
      },
    );
    try {
      const list = ffi.rtsp.gst_rtsp_server_client_filter(server, cb.pointer, null);
      if (list !== null) ffi.glib.g_list_free(list);
    } finally {
      cb.close();
    }
    return count;
  };
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(cleanupTimer);
      if (pollTimer !== undefined) clearInterval(pollTimer);
      const src = ffi.glib.g_main_context_find_source_by_id(ctx, sourceId);
      if (src !== null) ffi.glib.g_source_destroy(src); // stop accepting
      closeClients();
      if (loopMode === "thread") await quitLoop(ffi, loop, running);
      ffi.gobject.g_object_unref(pool);
      ffi.gobject.g_object_unref(server);
      ffi.glib.g_main_loop_unref(loop);
      ffi.glib.g_main_context_unref(ctx);
    })();
    return stopped;
  };
  return {
    port,
    address,
    loopMode,
    urlFor: (path: string): string => `rtsp://${address}:${port}${path}`,
    closeClients,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
