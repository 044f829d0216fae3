/**
 * A GStreamer pipeline that owns its references: built from a launch description, driven through
 * states, its bus read as typed messages. Close it (or `await using`) to release everything.
 */
import { cstr, type GstLibrary, openGst, readCString, readOutPointer } from "./ffi.ts";
import { PipelineClosedError, PipelineParseError, PipelineStateError } from "./errors.ts";
import { Element } from "./element.ts";
import {
  type BusMessage,
  DECODED_MESSAGES,
  type GstState,
  GstState as State,
  MessageType,
  StateChange,
} from "./messages.ts";

// Offsets inside GstMessage on LP64 (GstMiniObject is 64 bytes): type, timestamp, src.
const MESSAGE_TYPE_OFFSET = 64;
const MESSAGE_SRC_OFFSET = 80;
// GError { GQuark domain; gint code; gchar *message; }
const GERROR_MESSAGE_OFFSET = 8;
const NS_PER_MS = 1_000_000n;
// GstIteratorResult
const ITERATOR_DONE = 0;
const ITERATOR_RESYNC = 2;
const ITERATOR_ERROR = 3;

export interface PipelineOptions {
  /** Name used in errors and logs, e.g. the camera id. */
  readonly name: string;
}

export class Pipeline implements AsyncDisposable {
  readonly name: string;
  readonly description: string;
  readonly #lib: GstLibrary;
  #element: Deno.PointerValue;
  #bus: Deno.PointerValue;
  #pendingPop: Promise<unknown> | null = null;
  readonly #elements = new Map<string, Element>();

  private constructor(
    lib: GstLibrary,
    name: string,
    description: string,
    element: Deno.PointerObject,
  ) {
    this.#lib = lib;
    this.name = name;
    this.description = description;
    this.#element = element;
    this.#bus = lib.gst.gst_element_get_bus(element);
  }

  /** Builds a pipeline from a gst-launch description; throws PipelineParseError. */
  static parse(description: string, options: PipelineOptions): Pipeline {
    const lib = openGst();
    const errOut = new BigUint64Array(1);
    const element = lib.gst.gst_parse_launch(cstr(description), new Uint8Array(errOut.buffer));
    const gerror = readOutPointer(errOut);
    if (gerror !== null) {
      const detail = readGError(gerror, lib);
      if (element !== null) lib.gst.gst_object_unref(element);
      throw new PipelineParseError(options.name, description, detail);
    }
    if (element === null) {
      throw new PipelineParseError(options.name, description, "gst_parse_launch returned nothing");
    }
    return new Pipeline(lib, options.name, description, element);
  }

  get closed(): boolean {
    return this.#element === null;
  }

  /**
   * Sets the state. A synchronous failure is raised as PipelineStateError carrying the first error
   * on the bus (e.g. "Could not open file for writing").
   */
  setState(state: GstState): StateChange {
    const element = this.#live();
    const result = this.#lib.gst.gst_element_set_state(element, state) as StateChange;
    if (result === StateChange.FAILURE) {
      const error = this.#drainFirstError();
      throw new PipelineStateError(this.name, error ?? "state change refused (no error posted)");
    }
    return result;
  }

  play(): StateChange {
    return this.setState(State.PLAYING);
  }

  /** Current state, waiting at most `timeoutMs` for an async change to settle. */
  getState(timeoutMs = 0): { result: StateChange; state: GstState; pending: GstState } {
    const element = this.#live();
    const state = new Int32Array(1);
    const pending = new Int32Array(1);
    const result = this.#lib.gst.gst_element_get_state(
      element,
      new Uint8Array(state.buffer),
      new Uint8Array(pending.buffer),
      BigInt(timeoutMs) * NS_PER_MS,
    ) as StateChange;
    return { result, state: state[0] as GstState, pending: pending[0] as GstState };
  }

  /** The pipeline clock's running time in ns now, or null before PLAYING. */
  runningTime(): bigint | null {
    const ns = this.#lib.gst.gst_element_get_current_running_time(this.#live()) as bigint;
    return ns === 0xffff_ffff_ffff_ffffn ? null : ns;
  }

  /** Asks the pipeline to finish (muxers write their index); watch the bus for "eos". */
  sendEos(): boolean {
    const element = this.#live();
    return this.#lib.gst.gst_element_send_event(element, this.#lib.gst.gst_event_new_eos()) !== 0;
  }

  /** True when an element with this name exists in the pipeline. */
  hasElement(name: string): boolean {
    const child = this.#lib.gst.gst_bin_get_by_name(this.#live(), cstr(name));
    if (child === null) return false;
    this.#lib.gst.gst_object_unref(child);
    return true;
  }

  /** The element of that name, or null. The pipeline keeps the reference until close(). */
  element(name: string): Element | null {
    const cached = this.#elements.get(name);
    if (cached) return cached;
    const ptr = this.#lib.gst.gst_bin_get_by_name(this.#live(), cstr(name));
    if (ptr === null) return null;
    const element = new Element(this.#lib, name, ptr);
    this.#elements.set(name, element);
    return element;
  }

  /**
   * Names of every element inside the pipeline, bins included (e.g. the jitter buffers inside
   * rtspsrc), whose name starts with `prefix`.
   */
  elementNames(prefix = ""): string[] {
    const { gst, glib, gobject } = this.#lib;
    const it = gst.gst_bin_iterate_recurse(this.#live());
    if (it === null) return [];
    const value = new Uint8Array(24);
    const names: string[] = [];
    try {
      for (let guard = 0; guard < 10_000; guard++) {
        const result = gst.gst_iterator_next(it, value);
        if (result === ITERATOR_DONE || result === ITERATOR_ERROR) break;
        if (result === ITERATOR_RESYNC) {
          names.length = 0;
          continue;
        }
        const object = gobject.g_value_get_object(value);
        const name = object === null
          ? null
          : readCString(gst.gst_object_get_name(object), glib, true);
        if (name !== null && name.startsWith(prefix)) names.push(name);
        gobject.g_value_reset(value);
      }
    } finally {
      gobject.g_value_unset(value);
      gst.gst_iterator_free(it);
    }
    return names;
  }

  /** Next message without waiting, or null. */
  poll(): BusMessage | null {
    this.#live();
    const msg = this.#lib.gst.gst_bus_timed_pop_filtered(this.#bus, 0n, DECODED_MESSAGES);
    return msg === null ? null : this.#decodeAndFree(msg);
  }

  /**
   * Waits up to `timeoutMs` for the next message on a worker thread, so the event loop stays free.
   * Only one wait may be outstanding; `close()` waits for it before releasing the bus.
   */
  async next(timeoutMs: number): Promise<BusMessage | null> {
    this.#live();
    if (this.#pendingPop) throw new Error(`Pipeline '${this.name}': next() is already waiting`);
    const pop = this.#lib.gst.gst_bus_timed_pop_filtered_nb(
      this.#bus,
      BigInt(Math.max(0, Math.round(timeoutMs))) * NS_PER_MS,
      DECODED_MESSAGES,
    );
    this.#pendingPop = pop;
    try {
      const msg = await pop;
      return msg === null ? null : this.#decodeAndFree(msg);
    } finally {
      this.#pendingPop = null;
    }
  }

  /** Stops the pipeline (state NULL) and releases the bus and the pipeline. Idempotent. */
  async close(): Promise<void> {
    if (this.#element === null) return;
    if (this.#pendingPop) await this.#pendingPop.catch(() => {});
    if (this.#element === null) return;
    const element = this.#element;
    const bus = this.#bus;
    this.#element = null;
    this.#bus = null;
    this.#lib.gst.gst_element_set_state(element, State.NULL);
    for (const child of this.#elements.values()) this.#lib.gst.gst_object_unref(child.pointer);
    this.#elements.clear();
    if (bus !== null) this.#lib.gst.gst_object_unref(bus);
    this.#lib.gst.gst_object_unref(element);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #live(): Deno.PointerObject {
    if (this.#element === null) throw new PipelineClosedError(this.name);
    return this.#element;
  }

  #drainFirstError(): string | null {
    for (;;) {
      const msg = this.poll();
      if (msg === null) return null;
      if (msg.type === "error") return `${msg.source}: ${msg.message}`;
    }
  }

  #decodeAndFree(msg: Deno.PointerObject): BusMessage {
    try {
      return decodeMessage(msg, this.#lib);
    } finally {
      this.#lib.gst.gst_mini_object_unref(msg);
    }
  }
}

function decodeMessage(msg: Deno.PointerObject, lib: GstLibrary): BusMessage {
  const view = new Deno.UnsafePointerView(msg);
  const type = view.getUint32(MESSAGE_TYPE_OFFSET);
  const src = view.getPointer(MESSAGE_SRC_OFFSET);
  const source = src === null
    ? ""
    : readCString(lib.gst.gst_object_get_name(src), lib.glib, true) ?? "";
  switch (type) {
    case MessageType.EOS:
      return { type: "eos", source };
    case MessageType.ERROR:
    case MessageType.WARNING: {
      const errOut = new BigUint64Array(1);
      const debugOut = new BigUint64Array(1);
      const parse = type === MessageType.ERROR
        ? lib.gst.gst_message_parse_error
        : lib.gst.gst_message_parse_warning;
      parse(msg, new Uint8Array(errOut.buffer), new Uint8Array(debugOut.buffer));
      const gerror = readOutPointer(errOut);
      const view = gerror === null ? null : new Deno.UnsafePointerView(gerror);
      const domain = view === null
        ? null
        : readCString(lib.glib.g_quark_to_string(view.getUint32(0)), lib.glib, false);
      const code = view?.getInt32(4) ?? 0;
      const message = gerror === null ? "unknown error" : readGError(gerror, lib);
      const debug = readCString(readOutPointer(debugOut), lib.glib, true);
      return {
        type: type === MessageType.ERROR ? "error" : "warning",
        source,
        message,
        debug,
        domain,
        code,
      };
    }
    case MessageType.STATE_CHANGED: {
      const states = new Int32Array(3);
      lib.gst.gst_message_parse_state_changed(
        msg,
        new Uint8Array(states.buffer, 0, 4),
        new Uint8Array(states.buffer, 4, 4),
        new Uint8Array(states.buffer, 8, 4),
      );
      return {
        type: "state-changed",
        source,
        oldState: states[0] as GstState,
        newState: states[1] as GstState,
        pending: states[2] as GstState,
      };
    }
    case MessageType.STREAM_START:
      return { type: "stream-start", source };
    case MessageType.QOS:
      return { type: "qos", source };
    default:
      return decodeElementMessage(msg, source, lib);
  }
}

function decodeElementMessage(
  msg: Deno.PointerObject,
  source: string,
  lib: GstLibrary,
): BusMessage {
  const structure = lib.gst.gst_message_get_structure(msg);
  if (structure === null) {
    return { type: "element", source, name: "", location: null, runningTime: null, structure: "" };
  }
  const name = readCString(lib.gst.gst_structure_get_name(structure), lib.glib, false) ?? "";
  const location = readCString(
    lib.gst.gst_structure_get_string(structure, cstr("location")),
    lib.glib,
    false,
  );
  const timeOut = new BigUint64Array(1);
  const hasTime = lib.gst.gst_structure_get_uint64(
    structure,
    cstr("running-time"),
    new Uint8Array(timeOut.buffer),
  );
  const text = readCString(lib.gst.gst_structure_to_string(structure), lib.glib, true) ?? "";
  return {
    type: "element",
    source,
    name,
    location,
    runningTime: hasTime ? (timeOut[0] ?? null) : null,
    structure: text,
  };
}

function readGError(gerror: Deno.PointerObject, lib: GstLibrary): string {
  const view = new Deno.UnsafePointerView(gerror);
  const messagePtr = view.getPointer(GERROR_MESSAGE_OFFSET);
  const message = readCString(messagePtr, lib.glib, false) ?? "unknown error";
  lib.glib.g_error_free(gerror);
  return message;
}

/** True when the GStreamer registry has an element factory of this name. Presence only. */
export function hasElementFactory(name: string): boolean {
  const lib = openGst();
  const factory = lib.gst.gst_element_factory_find(cstr(name));
  if (factory === null) return false;
  lib.gst.gst_object_unref(factory);
  return true;
}
