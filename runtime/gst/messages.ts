/** Typed GStreamer bus messages. Pure types and constants: no FFI here. */

/** GstState */
export const GstState = { VOID_PENDING: 0, NULL: 1, READY: 2, PAUSED: 3, PLAYING: 4 } as const;
export type GstState = (typeof GstState)[keyof typeof GstState];
export const STATE_NAMES: Record<number, string> = {
  0: "void-pending",
  1: "null",
  2: "ready",
  3: "paused",
  4: "playing",
};

/** GstStateChangeReturn */
export const StateChange = { FAILURE: 0, SUCCESS: 1, ASYNC: 2, NO_PREROLL: 3 } as const;
export type StateChange = (typeof StateChange)[keyof typeof StateChange];

/** The GstMessageType bits this binding decodes. */
export const MessageType = {
  EOS: 1 << 0,
  ERROR: 1 << 1,
  WARNING: 1 << 2,
  STATE_CHANGED: 1 << 6,
  ELEMENT: 1 << 15,
  QOS: 1 << 24,
  STREAM_START: 1 << 28,
} as const;

/** Every type above: the filter used when popping the bus. */
export const DECODED_MESSAGES = Object.values(MessageType).reduce((a, b) => a | b, 0) >>> 0;

interface MessageBase {
  /** Name of the element that posted it, e.g. "mux". */
  readonly source: string;
}

export interface EosMessage extends MessageBase {
  readonly type: "eos";
}
export interface ErrorMessage extends MessageBase {
  readonly type: "error";
  readonly message: string;
  readonly debug: string | null;
  /** The GError's domain, e.g. "gst-resource-error-quark", and its code in that domain. */
  readonly domain: string | null;
  readonly code: number;
}
export interface WarningMessage extends MessageBase {
  readonly type: "warning";
  readonly message: string;
  readonly debug: string | null;
  readonly domain: string | null;
  readonly code: number;
}

/** GST_RESOURCE_ERROR_NO_SPACE_LEFT in the "gst-resource-error-quark" domain (gsterror.h). */
const RESOURCE_NO_SPACE_LEFT = 14;
/** strerror(ENOSPC) on Linux: GStreamer reports the OS's reason only as debug text. */
const ENOSPC_TEXT = "No space left on device";

/**
 * Whether an error message says the disk is full: filesink's RESOURCE/NO_SPACE_LEFT, or a write
 * error whose OS reason (given only as text in the debug string) is ENOSPC.
 */
export function noSpaceLeft(msg: ErrorMessage | WarningMessage): boolean {
  return (msg.domain === "gst-resource-error-quark" && msg.code === RESOURCE_NO_SPACE_LEFT) ||
    (msg.debug?.includes(ENOSPC_TEXT) ?? false) || msg.message.includes(ENOSPC_TEXT);
}
export interface StateChangedMessage extends MessageBase {
  readonly type: "state-changed";
  readonly oldState: GstState;
  readonly newState: GstState;
  readonly pending: GstState;
}
export interface StreamStartMessage extends MessageBase {
  readonly type: "stream-start";
}
export interface QosMessage extends MessageBase {
  readonly type: "qos";
}
/** An element-specific message, e.g. `splitmuxsink-fragment-closed`. */
export interface ElementMessage extends MessageBase {
  readonly type: "element";
  /** The structure's name. */
  readonly name: string;
  /** The `location` field, when the structure has one. */
  readonly location: string | null;
  /** The `running-time` field in nanoseconds, when present. */
  readonly runningTime: bigint | null;
  /** The whole structure serialised, for logs. */
  readonly structure: string;
}

export type BusMessage =
  | EosMessage
  | ErrorMessage
  | WarningMessage
  | StateChangedMessage
  | StreamStartMessage
  | QosMessage
  | ElementMessage;
