/**
 * Raw symbols of libgstreamer-1.0 (and the GLib pieces it needs), opened once per process.
 *
 * Nothing here knows about cameras; `pipeline.ts` wraps these symbols in typed objects that own
 * their references. Symbols are declared with exact C signatures from GStreamer 1.22's headers.
 */

const GST_SYMBOLS = {
  gst_init_check: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  gst_version_string: { parameters: [], result: "pointer" },
  gst_parse_launch: { parameters: ["buffer", "buffer"], result: "pointer" },
  gst_element_set_state: { parameters: ["pointer", "i32"], result: "i32" },
  gst_element_get_state: {
    parameters: ["pointer", "buffer", "buffer", "u64"],
    result: "i32",
  },
  gst_element_get_bus: { parameters: ["pointer"], result: "pointer" },
  gst_element_get_current_running_time: { parameters: ["pointer"], result: "u64" },
  gst_element_factory_find: { parameters: ["buffer"], result: "pointer" },
  gst_bin_get_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  gst_bin_iterate_recurse: { parameters: ["pointer"], result: "pointer" },
  gst_iterator_next: { parameters: ["pointer", "buffer"], result: "i32" },
  gst_iterator_free: { parameters: ["pointer"], result: "void" },
  gst_object_unref: { parameters: ["pointer"], result: "void" },
  gst_object_get_name: { parameters: ["pointer"], result: "pointer" },
  gst_bus_timed_pop_filtered: { parameters: ["pointer", "u64", "u32"], result: "pointer" },
  gst_bus_timed_pop_filtered_nb: {
    name: "gst_bus_timed_pop_filtered",
    parameters: ["pointer", "u64", "u32"],
    result: "pointer",
    nonblocking: true,
  },
  gst_bus_set_flushing: { parameters: ["pointer", "i32"], result: "void" },
  gst_mini_object_unref: { parameters: ["pointer"], result: "void" },
  gst_message_parse_error: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  gst_message_parse_warning: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  gst_message_parse_state_changed: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "void",
  },
  gst_message_get_structure: { parameters: ["pointer"], result: "pointer" },
  gst_structure_get_name: { parameters: ["pointer"], result: "pointer" },
  gst_structure_get_string: { parameters: ["pointer", "buffer"], result: "pointer" },
  gst_structure_get_uint64: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  gst_structure_to_string: { parameters: ["pointer"], result: "pointer" },
  gst_element_send_event: { parameters: ["pointer", "pointer"], result: "i32" },
  gst_event_new_eos: { parameters: [], result: "pointer" },
  gst_structure_get_int: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  gst_structure_get_uint: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  gst_structure_get_fraction: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  gst_element_get_static_pad: { parameters: ["pointer", "buffer"], result: "pointer" },
  gst_pad_get_current_caps: { parameters: ["pointer"], result: "pointer" },
  gst_pad_send_event: { parameters: ["pointer", "pointer"], result: "i32" },
  gst_caps_get_structure: { parameters: ["pointer", "u32"], result: "pointer" },
  gst_caps_to_string: { parameters: ["pointer"], result: "pointer" },
  gst_sample_get_buffer: { parameters: ["pointer"], result: "pointer" },
  gst_sample_get_caps: { parameters: ["pointer"], result: "pointer" },
  gst_buffer_map: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  gst_buffer_unmap: { parameters: ["pointer", "buffer"], result: "void" },
  gst_buffer_new_memdup: { parameters: ["buffer", "usize"], result: "pointer" },
  // For the RTSP server of the virtual cameras (rtsp_server.ts).
  gst_object_ref_sink: { parameters: ["pointer"], result: "pointer" },
  gst_structure_from_string: { parameters: ["buffer", "pointer"], result: "pointer" },
  gst_structure_free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

const GOBJECT_SYMBOLS = {
  g_object_class_find_property: { parameters: ["pointer", "buffer"], result: "pointer" },
  g_object_get_property: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  g_object_set_property: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  g_value_init: { parameters: ["buffer", "u64"], result: "pointer" },
  g_value_unset: { parameters: ["buffer"], result: "void" },
  g_value_reset: { parameters: ["buffer"], result: "pointer" },
  g_value_get_object: { parameters: ["buffer"], result: "pointer" },
  g_type_fundamental: { parameters: ["u64"], result: "u64" },
  g_type_name: { parameters: ["u64"], result: "pointer" },
  g_value_get_boolean: { parameters: ["buffer"], result: "i32" },
  g_value_get_int: { parameters: ["buffer"], result: "i32" },
  g_value_get_uint: { parameters: ["buffer"], result: "u32" },
  g_value_get_int64: { parameters: ["buffer"], result: "i64" },
  g_value_get_uint64: { parameters: ["buffer"], result: "u64" },
  g_value_get_double: { parameters: ["buffer"], result: "f64" },
  g_value_get_enum: { parameters: ["buffer"], result: "i32" },
  g_value_get_flags: { parameters: ["buffer"], result: "u32" },
  g_value_get_string: { parameters: ["buffer"], result: "pointer" },
  g_value_get_boxed: { parameters: ["buffer"], result: "pointer" },
  g_value_set_boolean: { parameters: ["buffer", "i32"], result: "void" },
  g_value_set_int: { parameters: ["buffer", "i32"], result: "void" },
  g_value_set_uint: { parameters: ["buffer", "u32"], result: "void" },
  g_value_set_int64: { parameters: ["buffer", "i64"], result: "void" },
  g_value_set_uint64: { parameters: ["buffer", "u64"], result: "void" },
  g_value_set_double: { parameters: ["buffer", "f64"], result: "void" },
  g_value_set_string: { parameters: ["buffer", "buffer"], result: "void" },
  g_value_set_enum: { parameters: ["buffer", "i32"], result: "void" },
  g_object_unref: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

const GSTAPP_SYMBOLS = {
  gst_app_sink_try_pull_sample: { parameters: ["pointer", "u64"], result: "pointer" },
  gst_app_sink_try_pull_sample_nb: {
    name: "gst_app_sink_try_pull_sample",
    parameters: ["pointer", "u64"],
    result: "pointer",
    nonblocking: true,
  },
  gst_app_src_push_buffer: { parameters: ["pointer", "pointer"], result: "i32" },
  gst_app_src_end_of_stream: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const GLIB_SYMBOLS = {
  g_free: { parameters: ["pointer"], result: "void" },
  g_error_free: { parameters: ["pointer"], result: "void" },
  g_quark_to_string: { parameters: ["u32"], result: "pointer" },
  // A main loop of our own, for the RTSP server of the virtual cameras (rtsp_server.ts).
  g_main_context_new: { parameters: [], result: "pointer" },
  g_main_context_unref: { parameters: ["pointer"], result: "void" },
  g_main_context_iteration: { parameters: ["pointer", "i32"], result: "i32" },
  g_main_context_find_source_by_id: { parameters: ["pointer", "u32"], result: "pointer" },
  g_main_loop_new: { parameters: ["pointer", "i32"], result: "pointer" },
  g_main_loop_run: { parameters: ["pointer"], result: "void", nonblocking: true },
  g_main_loop_quit: { parameters: ["pointer"], result: "void" },
  g_main_loop_is_running: { parameters: ["pointer"], result: "i32" },
  g_main_loop_unref: { parameters: ["pointer"], result: "void" },
  g_source_destroy: { parameters: ["pointer"], result: "void" },
  g_list_free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

export type GstSymbols = Deno.DynamicLibrary<typeof GST_SYMBOLS>["symbols"];
export type GlibSymbols = Deno.DynamicLibrary<typeof GLIB_SYMBOLS>["symbols"];
export type GobjectSymbols = Deno.DynamicLibrary<typeof GOBJECT_SYMBOLS>["symbols"];
export type GstAppSymbols = Deno.DynamicLibrary<typeof GSTAPP_SYMBOLS>["symbols"];

export interface GstLibrary {
  readonly gst: GstSymbols;
  readonly glib: GlibSymbols;
  readonly gobject: GobjectSymbols;
  readonly app: GstAppSymbols;
  /** e.g. "GStreamer 1.22.0" */
  readonly version: string;
}

/** Raised when libgstreamer cannot be loaded or initialised on this machine. */
export class GstUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GstUnavailableError";
  }
}

let opened: GstLibrary | undefined;

/**
 * Opens libgstreamer once for the process and calls gst_init. A process has exactly one GStreamer
 * registry, so this is the one piece of process-wide state, and it is never closed.
 */
export function openGst(): GstLibrary {
  if (opened) return opened;
  let gstLib: Deno.DynamicLibrary<typeof GST_SYMBOLS>;
  let glibLib: Deno.DynamicLibrary<typeof GLIB_SYMBOLS>;
  let gobjectLib: Deno.DynamicLibrary<typeof GOBJECT_SYMBOLS>;
  let appLib: Deno.DynamicLibrary<typeof GSTAPP_SYMBOLS>;
  try {
    gstLib = Deno.dlopen("libgstreamer-1.0.so.0", GST_SYMBOLS);
    glibLib = Deno.dlopen("libglib-2.0.so.0", GLIB_SYMBOLS);
    gobjectLib = Deno.dlopen("libgobject-2.0.so.0", GOBJECT_SYMBOLS);
    appLib = Deno.dlopen("libgstapp-1.0.so.0", GSTAPP_SYMBOLS);
  } catch (err) {
    throw new GstUnavailableError(
      "Cannot load libgstreamer-1.0 / libgstapp-1.0: install GStreamer 1.22 (run `make deps`, " +
        "or `apt-get install gstreamer1.0-tools gstreamer1.0-plugins-base`)",
      { cause: err },
    );
  }
  const errOut = new BigUint64Array(1);
  const ok = gstLib.symbols.gst_init_check(null, null, Deno.UnsafePointer.of(errOut));
  if (!ok) {
    throw new GstUnavailableError("gst_init_check failed: GStreamer could not initialise");
  }
  const version = readCString(gstLib.symbols.gst_version_string(), glibLib.symbols, true) ??
    "GStreamer (unknown version)";
  opened = {
    gst: gstLib.symbols,
    glib: glibLib.symbols,
    gobject: gobjectLib.symbols,
    app: appLib.symbols,
    version,
  };
  return opened;
}

/** NUL-terminated UTF-8 for a `buffer` parameter; a NUL inside would cut the string short. */
export function cstr(text: string): Uint8Array<ArrayBuffer> {
  if (text.includes("\0")) {
    throw new Error(`string passed to C contains a NUL byte: ${JSON.stringify(text)}`);
  }
  return new TextEncoder().encode(text + "\0");
}

/** Reads a C string; frees it with g_free when `owned` (transfer full). */
export function readCString(
  ptr: Deno.PointerValue,
  glib: GlibSymbols,
  owned: boolean,
): string | null {
  if (ptr === null) return null;
  const text = new Deno.UnsafePointerView(ptr).getCString();
  if (owned) glib.g_free(ptr);
  return text;
}

/** Reads a pointer written by C into an 8-byte out-parameter buffer. */
export function readOutPointer(out: BigUint64Array): Deno.PointerValue {
  const value = out[0] ?? 0n;
  return value === 0n ? null : Deno.UnsafePointer.create(value);
}
