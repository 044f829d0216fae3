/**
 * Opus encoding through libopus (Deno FFI), for audio a browser plays: cameras' G.711 is turned
 * into Opus in the recorder's process, with no GStreamer pipeline. The library is opened once per
 * process, when the first encoder is made; libopus0 is in every image (firmware/base-packages.txt).
 *
 *   using enc = new OpusEncoder({ sampleRate: 8000, channels: 1 });
 *   const packet = enc.encode(pcm20ms); // Int16Array of sampleRate / 50 samples a channel
 */

const LIBRARY = "libopus.so.0";

const SYMBOLS = {
  opus_encoder_create: { parameters: ["i32", "i32", "i32", "buffer"], result: "pointer" },
  opus_encoder_destroy: { parameters: ["pointer"], result: "void" },
  opus_encode: { parameters: ["pointer", "buffer", "i32", "buffer", "i32"], result: "i32" },
  // opus_encoder_ctl is variadic; one int or one pointer after the request is passed in the same
  // register as a fixed argument on x86-64 and arm64 Linux.
  opus_encoder_ctl_ptr: {
    name: "opus_encoder_ctl",
    parameters: ["pointer", "i32", "buffer"],
    result: "i32",
  },
  opus_encoder_ctl_int: {
    name: "opus_encoder_ctl",
    parameters: ["pointer", "i32", "i32"],
    result: "i32",
  },
  opus_strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type OpusSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const APPLICATION = { voip: 2048, audio: 2049 } as const;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_GET_LOOKAHEAD = 4027;
/** Largest packet libopus makes (RFC 6716 3.4: 1275 bytes a frame). */
const MAX_PACKET = 1500;

let opened: OpusSymbols | null = null;

/** libopus could not be loaded or refused a call; the message says what to do. */
export class OpusError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OpusError";
  }
}

function opus(): OpusSymbols {
  if (opened === null) {
    try {
      opened = Deno.dlopen(LIBRARY, SYMBOLS).symbols;
    } catch (err) {
      throw new OpusError(
        `Cannot load ${LIBRARY} (${(err as Error).message}); install libopus0 (Debian) or ` +
          "record this camera's audio through GStreamer",
        { cause: err },
      );
    }
  }
  return opened;
}

function errorText(code: number): string {
  const p = opus().opus_strerror(code);
  return p === null ? `error ${code}` : Deno.UnsafePointerView.getCString(p);
}

export interface OpusEncoderOptions {
  /** 8000, 12000, 16000, 24000 or 48000. */
  readonly sampleRate: number;
  /** 1 or 2. */
  readonly channels: number;
  /** "voip" (speech, the default) or "audio". */
  readonly application?: keyof typeof APPLICATION;
  /** Bits per second; default libopus's choice for the rate and channels. */
  readonly bitrate?: number;
  /** 0–10, CPU against quality; default libopus's (10 on x86 and arm64). */
  readonly complexity?: number;
}

export class OpusEncoder implements Disposable {
  readonly sampleRate: number;
  readonly channels: number;
  /** Samples (at 48 kHz) a decoder drops at the start: the dOps pre-skip. */
  readonly preSkip: number;
  #handle: Deno.PointerValue;
  readonly #out = new Uint8Array(MAX_PACKET);

  constructor(options: OpusEncoderOptions) {
    const { sampleRate, channels } = options;
    if (![8000, 12000, 16000, 24000, 48000].includes(sampleRate)) {
      throw new RangeError(`Opus encodes 8, 12, 16, 24 or 48 kHz, not ${sampleRate} Hz`);
    }
    if (channels !== 1 && channels !== 2) {
      throw new RangeError(`Opus encodes 1 or 2 channels here, not ${channels}`);
    }
    const lib = opus();
    const err = new Int32Array(1);
    const handle = lib.opus_encoder_create(
      sampleRate,
      channels,
      APPLICATION[options.application ?? "voip"],
      err,
    );
    if (handle === null || err[0] !== 0) {
      throw new OpusError(`opus_encoder_create failed: ${errorText(err[0]!)}`);
    }
    this.#handle = handle;
    this.sampleRate = sampleRate;
    this.channels = channels;
    if (options.bitrate !== undefined) {
      const code = lib.opus_encoder_ctl_int(handle, OPUS_SET_BITRATE, options.bitrate);
      if (code !== 0) {
        this.close();
        throw new OpusError(`Opus bitrate ${options.bitrate}: ${errorText(code)}`);
      }
    }
    if (options.complexity !== undefined) {
      const code = Number.isInteger(options.complexity) && options.complexity >= 0 &&
          options.complexity <= 10
        ? lib.opus_encoder_ctl_int(handle, OPUS_SET_COMPLEXITY, options.complexity)
        : -1;
      if (code !== 0) {
        this.close();
        throw new OpusError(`Opus complexity ${options.complexity}: give an integer 0–10`);
      }
    }
    const lookahead = new Int32Array(1);
    const code = lib.opus_encoder_ctl_ptr(handle, OPUS_GET_LOOKAHEAD, lookahead);
    // The lookahead is counted at the input rate; pre-skip is at 48 kHz.
    this.preSkip = code === 0 ? lookahead[0]! * (48000 / sampleRate) : 312;
  }

  /**
   * One packet from one frame of interleaved samples (2.5, 5, 10, 20, 40 or 60 ms); a copy,
   * safe to keep.
   */
  encode(pcm: Int16Array): Uint8Array {
    if (this.#handle === null) throw new OpusError("the Opus encoder is closed");
    const frame = pcm.length / this.channels;
    const n = opus().opus_encode(this.#handle, pcm, frame, this.#out, this.#out.length);
    if (n < 0) throw new OpusError(`opus_encode of ${frame} samples failed: ${errorText(n)}`);
    return this.#out.slice(0, n);
  }

  close(): void {
    if (this.#handle === null) return;
    opus().opus_encoder_destroy(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
