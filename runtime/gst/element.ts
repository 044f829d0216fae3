/**
 * A named element inside a Pipeline: read and write its properties (through GValue), read the caps
 * on its pads, pull samples when it is an appsink. The Pipeline owns the reference and releases it
 * on close; an Element must not be used after that.
 */
import { cstr, type GstLibrary, readCString } from "./ffi.ts";

const GVALUE_SIZE = 24;
// GParamSpec { GTypeInstance g_type_instance; const gchar *name; GParamFlags flags; GType value_type; }
const PSPEC_VALUE_TYPE_OFFSET = 24;
// GstMapInfo { GstMemory *memory; GstMapFlags flags; guint8 *data; gsize size; ... } is 104 bytes.
const MAP_INFO_SIZE = 104;
const MAP_DATA_OFFSET = 16;
const MAP_SIZE_OFFSET = 24;
const GST_MAP_READ = 1;
// GstBuffer { GstMiniObject (64); GstBufferPool *pool; GstClockTime pts, dts, duration; ... }
const BUFFER_PTS_OFFSET = 72;
const BUFFER_TIMES_BYTES = 24;

/** Fundamental GTypes (G_TYPE_MAKE_FUNDAMENTAL(n) = n << 2). */
const G_TYPE = {
  BOOLEAN: 20n,
  INT: 24n,
  UINT: 28n,
  LONG: 32n,
  ULONG: 36n,
  INT64: 40n,
  UINT64: 44n,
  ENUM: 48n,
  FLAGS: 52n,
  FLOAT: 56n,
  DOUBLE: 60n,
  STRING: 64n,
  BOXED: 72n,
} as const;

export type PropertyValue = boolean | number | bigint | string | null;

/** Numeric and boolean fields of a GstStructure (e.g. basesink "stats"), by field name. */
export type StructureFields = Record<string, number | bigint | boolean | string>;

export interface CapsInfo {
  /** e.g. "video/x-h265" */
  readonly media: string;
  readonly width: number | null;
  readonly height: number | null;
  /** Frames per second, when the caps carry a framerate. */
  readonly fps: number | null;
  readonly text: string;
}

export interface Sample {
  readonly data: Uint8Array;
  /** Presentation timestamp in ns, or null when none. */
  readonly pts: bigint | null;
  readonly caps: string | null;
}

export class PropertyError extends Error {
  constructor(element: string, property: string, detail: string) {
    super(`Element '${element}': property '${property}' ${detail}`);
    this.name = "PropertyError";
  }
}

export class Element {
  readonly name: string;
  readonly #lib: GstLibrary;
  readonly #ptr: Deno.PointerObject;

  constructor(lib: GstLibrary, name: string, ptr: Deno.PointerObject) {
    this.#lib = lib;
    this.name = name;
    this.#ptr = ptr;
  }

  /** Reads a property. GstStructure-valued properties come back as their serialised text. */
  get(property: string): PropertyValue {
    return this.#withValue(property, (value, type) => this.#read(value, type, property));
  }

  /** Reads a GstStructure-valued property (e.g. basesink "stats") as a field map. */
  getStructure(property: string): StructureFields {
    const text = this.get(property);
    return typeof text === "string" ? parseStructureFields(text) : {};
  }

  set(property: string, value: PropertyValue): void {
    const { gobject } = this.#lib;
    const type = this.#propertyType(property);
    const gvalue = new Uint8Array(GVALUE_SIZE);
    gobject.g_value_init(gvalue, type);
    try {
      const fundamental = gobject.g_type_fundamental(type) as bigint;
      if (fundamental === G_TYPE.BOOLEAN) gobject.g_value_set_boolean(gvalue, value ? 1 : 0);
      else if (fundamental === G_TYPE.INT) gobject.g_value_set_int(gvalue, Number(value));
      else if (fundamental === G_TYPE.UINT) gobject.g_value_set_uint(gvalue, Number(value));
      else if (fundamental === G_TYPE.INT64) gobject.g_value_set_int64(gvalue, BigInt(value ?? 0));
      else if (fundamental === G_TYPE.UINT64) {
        gobject.g_value_set_uint64(gvalue, BigInt(value ?? 0));
      } else if (fundamental === G_TYPE.DOUBLE) gobject.g_value_set_double(gvalue, Number(value));
      else if (fundamental === G_TYPE.ENUM) gobject.g_value_set_enum(gvalue, Number(value));
      else if (fundamental === G_TYPE.STRING) {
        gobject.g_value_set_string(gvalue, cstr(String(value)));
      } else throw new PropertyError(this.name, property, "has a type this binding cannot set");
      gobject.g_object_set_property(this.#ptr, cstr(property), gvalue);
    } finally {
      gobject.g_value_unset(gvalue);
    }
  }

  /** The negotiated caps on a static pad ("src", "sink"), or null before negotiation. */
  padCaps(pad: string): CapsInfo | null {
    const { gst, glib } = this.#lib;
    const padPtr = gst.gst_element_get_static_pad(this.#ptr, cstr(pad));
    if (padPtr === null) return null;
    try {
      const caps = gst.gst_pad_get_current_caps(padPtr);
      if (caps === null) return null;
      try {
        const structure = gst.gst_caps_get_structure(caps, 0);
        const text = readCString(gst.gst_caps_to_string(caps), glib, true) ?? "";
        if (structure === null) return { media: "", width: null, height: null, fps: null, text };
        const media = readCString(gst.gst_structure_get_name(structure), glib, false) ?? "";
        const int = (field: string) => {
          const out = new Int32Array(1);
          return gst.gst_structure_get_int(structure, cstr(field), new Uint8Array(out.buffer))
            ? out[0] ?? null
            : null;
        };
        const num = new Int32Array(1);
        const den = new Int32Array(1);
        const hasRate = gst.gst_structure_get_fraction(
          structure,
          cstr("framerate"),
          new Uint8Array(num.buffer),
          new Uint8Array(den.buffer),
        );
        const fps = hasRate && (den[0] ?? 0) > 0 && (num[0] ?? 0) > 0
          ? (num[0] ?? 0) / (den[0] ?? 1)
          : null;
        return { media, width: int("width"), height: int("height"), fps, text };
      } finally {
        gst.gst_mini_object_unref(caps);
      }
    } finally {
      gst.gst_object_unref(padPtr);
    }
  }

  /**
   * Sends EOS into one of this element's static pads ("sink"): everything downstream finishes
   * (muxers write their index) whatever the source upstream is doing.
   */
  sendEosToPad(pad: string): boolean {
    const { gst } = this.#lib;
    const padPtr = gst.gst_element_get_static_pad(this.#ptr, cstr(pad));
    if (padPtr === null) return false;
    try {
      return gst.gst_pad_send_event(padPtr, gst.gst_event_new_eos()) !== 0;
    } finally {
      gst.gst_object_unref(padPtr);
    }
  }

  /** appsink only: the next sample within `timeoutMs` (on a worker thread), or null. */
  async pullSample(timeoutMs: number): Promise<Sample | null> {
    const { app } = this.#lib;
    const sample = await app.gst_app_sink_try_pull_sample_nb(
      this.#ptr,
      BigInt(Math.max(0, Math.round(timeoutMs))) * 1_000_000n,
    );
    if (sample === null) return null;
    try {
      return readSample(this.#lib, sample);
    } finally {
      this.#lib.gst.gst_mini_object_unref(sample);
    }
  }

  /**
   * A sink's last buffer with its caps (GstBaseSink "last-sample", kept while enable-last-sample
   * is on, the default), or null before the first. No copies of earlier buffers are made.
   */
  lastSample(): Sample | null {
    return this.#withValue("last-sample", (value) => {
      const sample = this.#lib.gobject.g_value_get_boxed(value);
      return sample === null ? null : readSample(this.#lib, sample);
    });
  }

  /**
   * appsrc only: pushes a copy of `data` as one buffer, with its presentation time and duration
   * in ns when given (an appsrc with format=time and do-timestamp=false keeps them: the caller's
   * own timeline, e.g. a camera's RTP clock; no decode time). False when the appsrc refused it.
   */
  pushBuffer(
    data: Uint8Array<ArrayBuffer>,
    time?: { readonly pts: bigint; readonly duration: bigint },
  ): boolean {
    const buffer = this.#lib.gst.gst_buffer_new_memdup(data, BigInt(data.byteLength));
    if (buffer === null) return false;
    if (time) {
      // A buffer just made is ours alone: writing its fields in place is what GST_BUFFER_PTS does.
      const fields = new BigUint64Array(
        Deno.UnsafePointerView.getArrayBuffer(buffer, BUFFER_TIMES_BYTES, BUFFER_PTS_OFFSET),
      );
      fields[0] = time.pts; // pts
      fields[1] = 0xffff_ffff_ffff_ffffn; // dts unknown (B-frames): the parser works it out
      fields[2] = time.duration;
    }
    return this.#lib.app.gst_app_src_push_buffer(this.#ptr, buffer) === 0; // takes ownership
  }

  /** appsrc only: no more buffers. */
  endOfStream(): void {
    this.#lib.app.gst_app_src_end_of_stream(this.#ptr);
  }

  /** The raw element pointer, for binding code in this folder. */
  get pointer(): Deno.PointerObject {
    return this.#ptr;
  }

  #propertyType(property: string): bigint {
    const klass = new Deno.UnsafePointerView(this.#ptr).getPointer(0);
    const pspec = klass === null
      ? null
      : this.#lib.gobject.g_object_class_find_property(klass, cstr(property));
    if (pspec === null) throw new PropertyError(this.name, property, "does not exist");
    return new Deno.UnsafePointerView(pspec).getBigUint64(PSPEC_VALUE_TYPE_OFFSET);
  }

  #withValue<T>(property: string, read: (value: Uint8Array, type: bigint) => T): T {
    const { gobject } = this.#lib;
    const type = this.#propertyType(property);
    const gvalue = new Uint8Array(GVALUE_SIZE);
    gobject.g_value_init(gvalue, type);
    try {
      gobject.g_object_get_property(this.#ptr, cstr(property), gvalue);
      return read(gvalue, type);
    } finally {
      gobject.g_value_unset(gvalue);
    }
  }

  #read(value: Uint8Array, type: bigint, property: string): PropertyValue {
    const { gobject, gst, glib } = this.#lib;
    const fundamental = gobject.g_type_fundamental(type) as bigint;
    switch (fundamental) {
      case G_TYPE.BOOLEAN:
        return gobject.g_value_get_boolean(value) !== 0;
      case G_TYPE.INT:
        return gobject.g_value_get_int(value);
      case G_TYPE.UINT:
        return gobject.g_value_get_uint(value);
      case G_TYPE.INT64:
        return gobject.g_value_get_int64(value) as bigint;
      case G_TYPE.UINT64:
        return gobject.g_value_get_uint64(value) as bigint;
      case G_TYPE.DOUBLE:
        return gobject.g_value_get_double(value);
      case G_TYPE.ENUM:
        return gobject.g_value_get_enum(value);
      case G_TYPE.FLAGS:
        return gobject.g_value_get_flags(value);
      case G_TYPE.STRING:
        return readCString(gobject.g_value_get_string(value), glib, false);
      case G_TYPE.BOXED: {
        const typeName = readCString(gobject.g_type_name(type), glib, false);
        const boxed = gobject.g_value_get_boxed(value);
        if (boxed === null) return null;
        if (typeName === "GstStructure") {
          return readCString(gst.gst_structure_to_string(boxed), glib, true);
        }
        throw new PropertyError(
          this.name,
          property,
          `is a ${typeName}, which this binding cannot read`,
        );
      }
      default:
        throw new PropertyError(this.name, property, "has a type this binding cannot read");
    }
  }
}

function readSample(lib: GstLibrary, sample: Deno.PointerObject): Sample {
  const { gst, glib } = lib;
  const buffer = gst.gst_sample_get_buffer(sample);
  const capsPtr = gst.gst_sample_get_caps(sample);
  const caps = capsPtr === null ? null : readCString(gst.gst_caps_to_string(capsPtr), glib, true);
  if (buffer === null) return { data: new Uint8Array(), pts: null, caps };
  const rawPts = new Deno.UnsafePointerView(buffer).getBigUint64(BUFFER_PTS_OFFSET);
  const pts = rawPts === 0xffff_ffff_ffff_ffffn ? null : rawPts;
  const info = new Uint8Array(MAP_INFO_SIZE);
  if (!gst.gst_buffer_map(buffer, info, GST_MAP_READ)) return { data: new Uint8Array(), pts, caps };
  try {
    const view = new DataView(info.buffer);
    const dataPtr = Deno.UnsafePointer.create(view.getBigUint64(MAP_DATA_OFFSET, true));
    const size = Number(view.getBigUint64(MAP_SIZE_OFFSET, true));
    const data = dataPtr === null || size === 0
      ? new Uint8Array()
      : new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(dataPtr, size).slice(0));
    return { data, pts, caps };
  } finally {
    gst.gst_buffer_unmap(buffer, info);
  }
}

const FIELD = /([A-Za-z][\w-]*)=\((g?u?int(?:64)?|g?double|g?boolean|string)\)("[^"]*"|[^,;]+)/g;

/** Fields of a serialised GstStructure: "stats, rendered=(guint64)25, average-rate=(double)0;" */
export function parseStructureFields(text: string): StructureFields {
  const fields: StructureFields = {};
  for (const [, key, type, raw] of text.matchAll(FIELD)) {
    if (!key || !type || raw === undefined) continue;
    if (type.includes("int64")) fields[key] = BigInt(raw.trim());
    else if (type.includes("int")) fields[key] = Number(raw.trim());
    else if (type.includes("double")) fields[key] = Number(raw.trim());
    else if (type.includes("boolean")) fields[key] = /^(true|1)$/i.test(raw.trim());
    else fields[key] = raw.replace(/^"|"$/g, "");
  }
  return fields;
}
