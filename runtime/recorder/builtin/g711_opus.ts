/**
 * G.711 from the camera → Opus in the recording, in the recorder's own process: a table turns
 * each 8-bit sample into 16-bit PCM, libopus (codec_ffi/opus.ts) encodes 20 ms frames. Browsers
 * play Opus in MP4 (Chrome, Firefox, Safari 17+); none plays G.711 there.
 *
 * Cost: libopus at its default complexity (10) took 500 ms of CPU per minute of 8 kHz audio on
 * the 2-core x86 development machine, 0.8 % of a core per camera, which made a G.711 camera cost
 * as much to record as ffmpeg's whole recording of it (bench, 16 streams: 1.00×). Complexity 3
 * takes 163 ms (0.27 %) at the same bitrate (docs/benchmarks.md, issue 15's rounds); for 8 kHz narrowband speech at 24 kbit/s the difference in quality is not audible
 * (libopus's lower complexities drop search effort, not bandwidth). Not yet measured on arm64.
 */
import { decodeG711, type G711Law } from "../../media/codec/g711.ts";
import type { AudioAccessUnit } from "../../media/codec/types.ts";
import { OpusEncoder } from "../../codec_ffi/opus.ts";

const RATE = 8000;
/** 20 ms at 8 kHz. */
const FRAME = 160;
/** 24 kbit/s: narrowband speech is transparent well below this; G.711 is 64. */
const BITRATE = 24_000;
/** libopus effort 0–10; 3 costs a third of the default 10 (measured above). */
const COMPLEXITY = 3;

export class G711ToOpus implements Disposable {
  readonly #law: G711Law;
  readonly #encoder: OpusEncoder;
  readonly #pcm = new Int16Array(FRAME);
  #filled = 0;
  /** Timestamp (8 kHz) of the first sample in #pcm, or NaN when it is empty. */
  #startTs = NaN;

  /** Throws OpusError when libopus cannot be loaded. */
  constructor(law: G711Law) {
    this.#law = law;
    this.#encoder = new OpusEncoder({
      sampleRate: RATE,
      channels: 1,
      bitrate: BITRATE,
      complexity: COMPLEXITY,
    });
  }

  /** dOps PreSkip of the frames made here. */
  get preSkip(): number {
    return this.#encoder.preSkip;
  }

  /**
   * Takes one RTP payload of samples; appends each whole 20 ms Opus frame to `out`, stamped with
   * its first sample's timestamp (8 kHz). A gap in the timestamps drops the unfinished frame.
   */
  push(run: AudioAccessUnit, out: AudioAccessUnit[]): void {
    if (this.#filled > 0 && run.timestamp !== this.#startTs + this.#filled) this.#filled = 0;
    let at = 0;
    while (at < run.data.length) {
      if (this.#filled === 0) this.#startTs = run.timestamp + at;
      const take = Math.min(FRAME - this.#filled, run.data.length - at);
      this.#filled = decodeG711(
        this.#law,
        run.data.subarray(at, at + take),
        this.#pcm,
        this.#filled,
      );
      at += take;
      if (this.#filled === FRAME) {
        out.push({ data: this.#encoder.encode(this.#pcm), timestamp: this.#startTs });
        this.#filled = 0;
      }
    }
  }

  [Symbol.dispose](): void {
    this.#encoder.close();
  }
}
