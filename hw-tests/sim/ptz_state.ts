/**
 * The virtual camera's pan/tilt/zoom head, as pure state: where it points, how it moves, its
 * presets, and which part of a larger scene picture it shows (the crop that the camera process
 * applies to its `videocrop` element, so a move is visible in every stream and snapshot).
 *
 * Positions use ONVIF's generic spaces: pan and tilt -1..1, zoom 0..1. Velocities -1..1. Time is
 * passed in (`now`), so a test can drive it without waiting.
 */

export interface PtzVector {
  readonly pan: number;
  readonly tilt: number;
  readonly zoom: number;
}

export interface PtzPreset {
  readonly token: string;
  readonly name: string;
  readonly position: PtzVector;
}

export interface Crop {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Generic-space units a second at velocity 1: a full pan sweep (-1 to 1) takes 4 s. */
export const PAN_TILT_UNITS_PER_S = 0.5;
/** A full zoom (0 to 1) at velocity 1 takes 4 s. */
export const ZOOM_UNITS_PER_S = 0.25;
/** Like many real heads: a few hundred presets. */
export const MAX_PRESETS = 64;
/** The scene is this many times the output picture in each direction. */
export const SCENE_FACTOR = 2;
/** The widest view shows one output picture of the scene; zoom 1 shows a quarter of its width. */
export const MAX_ZOOM = 4;

const HOME: PtzVector = { pan: 0, tilt: 0, zoom: 0 };

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export class PtzState {
  #base: PtzVector = HOME;
  #velocity: PtzVector = HOME;
  #since = 0;
  /** When the current move stops by itself (its Timeout); Infinity: never. */
  #until = Infinity;
  readonly #presets = new Map<string, PtzPreset>();
  #nextToken = 1;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Where the head points now. */
  position(): PtzVector {
    const t = Math.max(0, Math.min(this.#now(), this.#until) - this.#since) / 1000;
    const v = this.#velocity;
    return {
      pan: clamp(this.#base.pan + v.pan * PAN_TILT_UNITS_PER_S * t, -1, 1),
      tilt: clamp(this.#base.tilt + v.tilt * PAN_TILT_UNITS_PER_S * t, -1, 1),
      zoom: clamp(this.#base.zoom + v.zoom * ZOOM_UNITS_PER_S * t, 0, 1),
    };
  }

  /** Whether pan/tilt and zoom are moving now ("MOVING"/"IDLE" in GetStatus). */
  moving(): { panTilt: boolean; zoom: boolean } {
    const running = this.#now() < this.#until;
    const p = this.position();
    const v = this.#velocity;
    // At a limit the head has stopped, whatever the velocity says.
    const panMoves = v.pan !== 0 && !(p.pan === (v.pan > 0 ? 1 : -1));
    const tiltMoves = v.tilt !== 0 && !(p.tilt === (v.tilt > 0 ? 1 : -1));
    const zoomMoves = v.zoom !== 0 && !(p.zoom === (v.zoom > 0 ? 1 : 0));
    return { panTilt: running && (panMoves || tiltMoves), zoom: running && zoomMoves };
  }

  /** ContinuousMove: velocities -1..1; `timeoutMs` null: until Stop. */
  move(velocity: PtzVector, timeoutMs: number | null): void {
    this.#base = this.position();
    this.#since = this.#now();
    this.#velocity = {
      pan: clamp(velocity.pan, -1, 1),
      tilt: clamp(velocity.tilt, -1, 1),
      zoom: clamp(velocity.zoom, -1, 1),
    };
    this.#until = timeoutMs === null ? Infinity : this.#since + timeoutMs;
  }

  /** Stop: pan/tilt and/or zoom (both by default). */
  stop(panTilt = true, zoom = true): void {
    this.#base = this.position();
    this.#since = this.#now();
    const v = this.#velocity;
    this.#velocity = {
      pan: panTilt ? 0 : v.pan,
      tilt: panTilt ? 0 : v.tilt,
      zoom: zoom ? 0 : v.zoom,
    };
  }

  presets(): PtzPreset[] {
    return [...this.#presets.values()];
  }

  /**
   * SetPreset: stores the current position under `token` (replacing it) or under a new token.
   * Returns the token, or an error text.
   */
  setPreset(name: string, token?: string): { token: string } | { error: string } {
    if (token !== undefined && !this.#presets.has(token)) {
      return { error: `no preset with token "${token}"; leave PresetToken out to make a new one` };
    }
    if (token === undefined && this.#presets.size >= MAX_PRESETS) {
      return { error: `at most ${MAX_PRESETS} presets; remove one first` };
    }
    const t = token ?? `preset${this.#nextToken++}`;
    this.#presets.set(t, { token: t, name, position: this.position() });
    return { token: t };
  }

  /** GotoPreset: the head jumps there (the virtual motor is fast). False: no such preset. */
  gotoPreset(token: string): boolean {
    const p = this.#presets.get(token);
    if (p === undefined) return false;
    this.#base = p.position;
    this.#velocity = HOME;
    this.#since = this.#now();
    this.#until = Infinity;
    return true;
  }

  removePreset(token: string): boolean {
    return this.#presets.delete(token);
  }
}

/**
 * The part of the scene (SCENE_FACTOR × the output size) that the head shows at `p`: the window
 * is the output size at zoom 0 and MAX_ZOOM times smaller at zoom 1, and pan/tilt move it across
 * the whole scene. Even numbers (I420 chroma).
 */
export function cropFor(p: PtzVector, width: number, height: number): Crop {
  const sceneW = width * SCENE_FACTOR;
  const sceneH = height * SCENE_FACTOR;
  const scale = 1 + (MAX_ZOOM - 1) * clamp(p.zoom, 0, 1);
  const even = (n: number) => Math.max(0, Math.round(n / 2) * 2);
  const winW = even(width / scale);
  const winH = even(height / scale);
  const left = even(((clamp(p.pan, -1, 1) + 1) / 2) * (sceneW - winW));
  // Tilt up (positive) looks at the top of the scene.
  const top = even(((1 - clamp(p.tilt, -1, 1)) / 2) * (sceneH - winH));
  return { left, right: sceneW - winW - left, top, bottom: sceneH - winH - top };
}
