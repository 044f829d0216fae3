/**
 * A camera's live pictures across recorder restarts. Viewers subscribe to the relay once; the
 * relay subscribes to whatever source feeds the camera now (the recorder's restream) and moves to
 * the new one when told to `follow()` (the daemon rebuilt its recorders after a configuration
 * change), so a viewer keeps its WebSocket and sees a pause of about the restart's length, not an
 * error. The viewer's muxer joins the new source at its first keyframe without a hole in the
 * timeline (live_muxer.ts). Pure logic, no I/O.
 */
import { LiveFanout, type LiveSource, type LiveSubscriber } from "./feed.ts";

export class LiveRelay implements LiveSource {
  readonly #fanout = new LiveFanout();
  readonly #source: () => LiveSource | null;
  #attached: { source: LiveSource; off: () => void } | null = null;

  /** `source()` is the camera's current feed, or null while it has none. */
  constructor(source: () => LiveSource | null) {
    this.#source = source;
  }

  get subscribers(): number {
    return this.#fanout.subscribers;
  }

  subscribe(subscriber: LiveSubscriber): () => void {
    const off = this.#fanout.subscribe(subscriber);
    this.#attach();
    return () => {
      off();
      if (this.#fanout.subscribers === 0) this.#detach();
    };
  }

  /** The feed may have changed (recorders restarted): move to the current one. */
  follow(): void {
    if (this.#fanout.subscribers === 0) return;
    if (this.#attached && this.#attached.source === this.#source()) return;
    this.#detach();
    this.#attach();
  }

  #attach(): void {
    if (this.#attached) return;
    const source = this.#source();
    if (!source) return;
    const off = source.subscribe({
      frame: (track, frame) => this.#fanout.publish(track, frame),
    });
    this.#attached = { source, off };
  }

  #detach(): void {
    this.#attached?.off();
    this.#attached = null;
    // What a new viewer would start from belonged to the old feed.
    this.#fanout.reset();
  }
}
