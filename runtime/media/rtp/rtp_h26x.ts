/**
 * H.264 (RFC 6184) and H.265 (RFC 7798) RTP depacketizers: packets in, whole access units out.
 *
 * Supported payloads: single NAL units, STAP-A / AP (aggregation) and FU-A / FU (fragmentation);
 * not STAP-B, MTAP, FU-B, PACI or DONL (sprop-max-don-diff > 0), which cameras do not send in
 * practice: such packets make the access unit damaged.
 *
 * An access unit ends at the packet with the marker bit, or when the timestamp changes (the
 * previous one is emitted then), or when a second picture starts under the same timestamp (a new
 * first slice, or a parameter set / AUD / SEI after a slice). Lost packets (sequence gaps), fragments without their start and
 * malformed aggregates mark the access unit `damaged`; a unit over {@link MAX_AU_BYTES} or
 * {@link MAX_AU_NALS} is dropped and the next one is marked damaged.
 *
 * Buffer ownership: every NAL unit is copied once into the ByteArena given (fragments appended in
 * place as they come), so the caller may reuse the payload's bytes as soon as push() returns (the
 * RTSP reader reads into one reused buffer). The NAL units handed out are views into the arena,
 * valid until whoever consumes them releases them there (ByteArena.releaseBefore).
 */
import type { VideoAccessUnit, VideoCodec } from "../codec/types.ts";
import { SequenceTracker, TimestampExtender } from "./rtp_unwrap.ts";
import { ByteArena } from "./byte_arena.ts";

/** Larger access units are dropped (a 4K intra picture is a few MiB). */
export const MAX_AU_BYTES = 16 * 1024 * 1024;
/** More NAL units in one access unit than this: dropped. */
export const MAX_AU_NALS = 4096;

const EMPTY: Uint8Array[] = [];

export class H26xDepacketizer {
  readonly codec: VideoCodec;
  readonly #h265: boolean;
  readonly #seq = new SequenceTracker();
  readonly #clock = new TimestampExtender();
  #lost = 0;
  #dropped = 0;

  // The access unit in progress.
  #nals: Uint8Array[] = [];
  #bytes = 0;
  #open = false;
  #timestamp = 0;
  #keyframe = false;
  #damaged = false;
  /** Over a bound: collect nothing more until the unit ends, then emit nothing. */
  #overflow = false;
  /** A slice of the unit's picture has been added. */
  #hasVcl = false;
  /** A loss between units: the next unit starts damaged. */
  #damageNext = false;

  // The fragmented NAL unit in progress (its bytes grow in the arena).
  readonly #arena: ByteArena;
  #fuOpen = false;
  #fuBytes = 0;
  readonly #fuHead = new Uint8Array(2);

  /** Units finished but not yet returned (two can finish in one push). */
  #ready: VideoAccessUnit[] = [];

  /** `arena`: where NAL units are kept (default: one of its own). */
  constructor(codec: VideoCodec, arena: ByteArena = new ByteArena()) {
    this.codec = codec;
    this.#arena = arena;
    this.#h265 = codec === "h265";
  }

  /** Packets the sequence numbers say were lost. */
  get lostPackets(): number {
    return this.#lost;
  }

  /** Access units dropped for being over the bounds. */
  get droppedUnits(): number {
    return this.#dropped;
  }

  /**
   * One RTP payload (after the RTP header). Returns the access unit this packet finished, if any.
   * Rarely two finish at once (a timestamp change and a marker in one packet, after a loss): the
   * second comes from {@link shift}, so call it until null after each push.
   */
  push(
    payload: Uint8Array,
    sequence: number,
    timestamp: number,
    marker: boolean,
  ): VideoAccessUnit | null {
    const lost = this.#seq.next(sequence);
    const ts = this.#clock.extend(timestamp);
    if (this.#open && ts !== this.#timestamp) this.#finish(lost !== 0);
    if (lost !== 0) {
      if (lost > 0) this.#lost += lost;
      if (this.#open) this.#damage();
      else this.#damageNext = true;
    }
    if (!this.#open) this.#begin(ts);
    if (this.#h265) this.#payload265(payload);
    else this.#payload264(payload);
    if (marker) this.#finish(false);
    return this.#ready.shift() ?? null;
  }

  /** A unit that finished in the same push as the one push() returned, or null. */
  shift(): VideoAccessUnit | null {
    return this.#ready.shift() ?? null;
  }

  /** Ends the unit in progress (end of stream); call until null. */
  flush(): VideoAccessUnit | null {
    if (this.#ready.length === 0 && this.#open) this.#finish(false);
    return this.#ready.shift() ?? null;
  }

  #begin(ts: number): void {
    this.#open = true;
    this.#timestamp = ts;
    this.#nals = [];
    this.#bytes = 0;
    this.#keyframe = false;
    this.#damaged = this.#damageNext;
    this.#damageNext = false;
    this.#overflow = false;
    this.#hasVcl = false;
  }

  /** The unit in progress is complete (marker, or a new timestamp) or cut short (`lossAfter`). */
  #finish(lossAfter: boolean): void {
    if (this.#fuOpen) this.#damage(); // its last fragment never came
    this.#open = false;
    if (this.#overflow) {
      this.#dropped++;
      this.#damageNext = true;
      this.#nals = EMPTY;
      return;
    }
    if (this.#nals.length === 0) {
      // Nothing usable arrived: the loss carries over to the next unit.
      if (this.#damaged) this.#damageNext = true;
      return;
    }
    this.#ready.push({
      nals: this.#nals,
      timestamp: this.#timestamp,
      keyframe: this.#keyframe,
      damaged: this.#damaged || lossAfter,
    });
    this.#nals = EMPTY;
  }

  #damage(): void {
    this.#damaged = true;
    if (this.#fuOpen) this.#arena.abort();
    this.#fuOpen = false;
    this.#fuBytes = 0;
  }

  #add(nal: Uint8Array, owned = false): void {
    if (this.#overflow) return;
    if (nal.length === 0) {
      this.#damaged = true;
      return;
    }
    if (this.#nals.length >= MAX_AU_NALS || this.#bytes + nal.length > MAX_AU_BYTES) {
      this.#overflow = true;
      this.#nals = [];
      return;
    }
    const type = this.#h265 ? (nal[0]! >> 1) & 0x3f : nal[0]! & 0x1f;
    const vcl = this.#h265 ? type < 32 : type >= 1 && type <= 5;
    if (this.#hasVcl && (vcl ? this.#firstSlice(nal) : this.#startsUnit(type))) {
      // A second picture under the same timestamp without a marker between (some servers send
      // their first pictures so): it is a unit of its own.
      const ts = this.#timestamp;
      this.#finish(false);
      this.#begin(ts);
    }
    if (vcl) this.#hasVcl = true;
    if (this.#h265 ? type >= 16 && type <= 23 : type === 5) this.#keyframe = true;
    this.#nals.push(owned ? nal : this.#arena.copy(nal));
    this.#bytes += nal.length;
  }

  /** first_mb_in_slice = 0 (H.264) / first_slice_segment_in_pic_flag (H.265). */
  #firstSlice(nal: Uint8Array): boolean {
    return this.#h265
      ? nal.length > 2 && (nal[2]! & 0x80) !== 0
      : nal.length > 1 && (nal[1]! & 0x80) !== 0;
  }

  /** NAL types that may only come before the first slice of a picture (AUD, SEI, parameter sets). */
  #startsUnit(type: number): boolean {
    return this.#h265
      ? (type >= 32 && type <= 35) || type === 39 || (type >= 41 && type <= 44)
      : (type >= 6 && type <= 9) || (type >= 14 && type <= 18);
  }

  #payload264(p: Uint8Array): void {
    if (p.length < 1) return this.#damage();
    const type = p[0]! & 0x1f;
    if (this.#fuOpen && type !== 28) this.#damage(); // the fragmented unit never ended
    if (type >= 1 && type <= 23) return this.#add(p);
    if (type === 24) return this.#aggregate(p, 1);
    if (type === 28) {
      if (p.length < 2) return this.#damage();
      const fu = p[1]!;
      return this.#fragment(p, 2, fu, (p[0]! & 0xe0) | (fu & 0x1f), -1);
    }
    this.#damage(); // 0, 25–27, 29–31: not used by cameras, or reserved
  }

  #payload265(p: Uint8Array): void {
    if (p.length < 2) return this.#damage();
    const type = (p[0]! >> 1) & 0x3f;
    if (this.#fuOpen && type !== 49) this.#damage(); // the fragmented unit never ended
    if (type < 48) return this.#add(p);
    if (type === 48) return this.#aggregate(p, 2);
    if (type === 49) {
      if (p.length < 3) return this.#damage();
      const fu = p[2]!;
      return this.#fragment(p, 3, fu, (p[0]! & 0x81) | ((fu & 0x3f) << 1), p[1]!);
    }
    this.#damage(); // 50 PACI and reserved types
  }

  /** STAP-A / AP: 16-bit size, NAL unit, repeated. */
  #aggregate(p: Uint8Array, offset: number): void {
    let at = offset;
    while (at + 2 <= p.length) {
      const size = (p[at]! << 8) | p[at + 1]!;
      at += 2;
      if (size === 0 || at + size > p.length) return this.#damage();
      this.#add(p.subarray(at, at + size));
      at += size;
    }
    if (at !== p.length) this.#damage();
  }

  /** FU-A / FU: `fu` is the FU header (S, E bits); `head0`, `head1` the NAL header (-1: none). */
  #fragment(p: Uint8Array, offset: number, fu: number, head0: number, head1: number): void {
    const arena = this.#arena;
    if (fu & 0x80) {
      if (this.#fuOpen) this.#damage(); // the previous one never ended
      this.#fuOpen = true;
      this.#fuHead[0] = head0;
      this.#fuHead[1] = head1;
      arena.begin();
      arena.append(this.#fuHead.subarray(0, head1 < 0 ? 1 : 2));
      this.#fuBytes = head1 < 0 ? 1 : 2;
    } else if (!this.#fuOpen) {
      this.#damaged = true; // its start was lost
      return;
    }
    const part = p.subarray(offset);
    this.#fuBytes += part.length;
    if (this.#bytes + this.#fuBytes > MAX_AU_BYTES) {
      this.#overflow = true;
      this.#nals = [];
      arena.abort();
      this.#fuOpen = false;
      return;
    }
    arena.append(part);
    if (!(fu & 0x40)) return;
    this.#fuOpen = false;
    this.#fuBytes = 0;
    this.#add(arena.end(), true);
  }
}
