/**
 * G.711 over RTP (RFC 3551 4.5.14, payload types 0 PCMU and 8 PCMA): each payload is a run of
 * 8-bit samples at 8 kHz, its timestamp the first sample's. Nothing to reassemble.
 */
import type { AudioAccessUnit } from "../codec/types.ts";
import { SequenceTracker, TimestampExtender } from "./rtp_unwrap.ts";

export class G711Depacketizer {
  readonly #clock = new TimestampExtender();
  readonly #seq = new SequenceTracker();
  #lost = 0;

  get lostPackets(): number {
    return this.#lost;
  }

  /** One RTP payload → one run of samples (a view of `payload`: copy to keep it). */
  push(payload: Uint8Array, sequence: number, timestamp: number): AudioAccessUnit[] {
    const lost = this.#seq.next(sequence);
    if (lost > 0) this.#lost += lost;
    const ts = this.#clock.extend(timestamp);
    return payload.length === 0 ? [] : [{ data: payload, timestamp: ts }];
  }
}
