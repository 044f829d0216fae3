/**
 * Pan, tilt, zoom and presets of the box's ONVIF cameras, for the API and the fleet `ptz` command.
 *
 * The `onvif` npm client does the SOAP (connect, ContinuousMove, Stop, GetPresets, GotoPreset,
 * SetPreset, GetStatus). Where it falls short this file makes up for it:
 * - it puts preset tokens and names into the XML as they are, unescaped: tokens are checked
 *   against a plain alphabet first (lib/ptz_request.ts) and names are escaped here;
 * - SetPreset's answer (the new token) is not parsed by it: read here from the XML;
 * - a continuous move is only as safe as the camera's own Timeout: the box also sends Stop when
 *   the move's time is up, so a camera that ignores Timeout (many do) still stops, and a page that
 *   loses its connection mid-move cannot leave the head turning.
 * Calls to one camera run one after another in the order they came (a stop sent just after a move
 * is not overtaken by it).
 */
import { onvifCam } from "./cam.ts";
import type { PtzRequest, PtzVelocity } from "../lib/ptz_request.ts";

/** Where a camera's ONVIF device service is and how to sign in, or null: the camera has none. */
export interface PtzTarget {
  readonly url: string;
  readonly username: string | null;
  readonly password: string | null;
}

export type PtzErrorKind = "unknown-camera" | "no-onvif" | "no-ptz" | "camera-failed";

export class PtzError extends Error {
  readonly kind: PtzErrorKind;
  constructor(kind: PtzErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PtzError";
    this.kind = kind;
  }
}

export interface PtzPresetInfo {
  readonly token: string;
  readonly name: string;
}

export interface PtzStatus {
  readonly position: PtzVelocity;
  readonly moving: boolean;
}

export interface PtzServiceOptions {
  /** The camera's ONVIF target; undefined: no such camera; null: it has no ONVIF address. */
  readonly target: (camera: string) => PtzTarget | null | undefined;
  /** Per SOAP request; default 3000 ms. */
  readonly requestTimeoutMs?: number;
}

type Cb<T> = (err: Error | null, value: T, xml?: string) => void;
interface Profile {
  $: { token: string };
  PTZConfiguration?: unknown;
}
interface PtzCam {
  connect(cb: Cb<unknown>): void;
  profiles?: Profile[];
  uri?: { ptz?: unknown };
  presets?: Record<string, { $: { token: string }; name?: string }>;
  continuousMove(
    o: { profileToken: string; x: number; y: number; zoom: number; timeout: number },
    cb: Cb<unknown>,
  ): void;
  stop(o: { profileToken: string; panTilt: boolean; zoom: boolean }, cb: Cb<unknown>): void;
  getPresets(o: { profileToken: string }, cb: Cb<unknown>): void;
  gotoPreset(o: { profileToken: string; preset: string }, cb: Cb<unknown>): void;
  setPreset(
    o: { profileToken: string; presetName: string; presetToken?: string },
    cb: Cb<unknown>,
  ): void;
  getStatus(
    o: { profileToken: string },
    cb: Cb<{ position: { x: number; y: number; zoom: number }; moveStatus?: unknown }>,
  ): void;
}

interface Connected {
  readonly key: string;
  readonly cam: PtzCam;
  readonly profileToken: string;
}

function call<T>(f: (cb: Cb<T>) => void): Promise<{ value: T; xml: string }> {
  return new Promise((resolve, reject) =>
    f((err, value, xml) => err ? reject(err) : resolve({ value, xml: xml ?? "" }))
  );
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The result of one request, as JSON for the API and the fleet. */
export type PtzResult =
  | { readonly action: "move"; readonly velocity: PtzVelocity; readonly stopsAfterMs: number }
  | { readonly action: "stop" }
  | { readonly action: "presets"; readonly presets: PtzPresetInfo[] }
  | { readonly action: "goto"; readonly preset: string }
  | { readonly action: "save"; readonly preset: string; readonly name: string };

export class PtzService {
  readonly #opts: PtzServiceOptions;
  readonly #connected = new Map<string, Promise<Connected>>();
  readonly #stopTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Cameras found without PTZ, by the target they were found at (a new address asks again). */
  readonly #noPtz = new Map<string, string>();
  #closed = false;

  constructor(opts: PtzServiceOptions) {
    this.#opts = opts;
  }

  /** Runs one request on `camera`. Throws PtzError (the kind says whose fault it is). */
  run(camera: string, req: PtzRequest): Promise<PtzResult> {
    return this.#serial(camera, async (): Promise<PtzResult> => {
      const c = await this.#connect(camera);
      try {
        return await this.#do(camera, c, req);
      } catch (err) {
        // The next request connects afresh (the camera may have rebooted or changed).
        this.#connected.delete(camera);
        throw this.#wrap(camera, req.action, err);
      }
    });
  }

  /**
   * Whether asking about PTZ may succeed: the camera has an ONVIF address and no connection found
   * it without PTZ at that address. Answered without asking the camera.
   */
  mayHave(camera: string): boolean {
    const target = this.#opts.target(camera);
    if (target === undefined || target === null) return false;
    return this.#noPtz.get(camera) !== targetKey(target);
  }

  /** Whether the camera has PTZ, with its presets and where it points (for the page). */
  status(camera: string): Promise<{ presets: PtzPresetInfo[]; status: PtzStatus | null }> {
    return this.#serial(camera, async () => {
      const c = await this.#connect(camera);
      try {
        const presets = await this.#presets(c);
        const status = await call<{ position: { x: number; y: number; zoom: number } }>((cb) =>
          c.cam.getStatus({ profileToken: c.profileToken }, cb)
        ).then(({ value, xml }) => ({
          position: {
            pan: Number(value.position.x),
            tilt: Number(value.position.y),
            zoom: Number(value.position.zoom),
          },
          moving: /<(?:[\w.-]+:)?(?:PanTilt|Zoom)>\s*MOVING\s*</.test(xml),
        })).catch(() => null); // GetStatus is optional in ONVIF
        return { presets, status };
      } catch (err) {
        this.#connected.delete(camera);
        throw this.#wrap(camera, "status", err);
      }
    });
  }

  /** Clears the pending stops (sending each Stop first, best effort). */
  async close(): Promise<void> {
    this.#closed = true;
    const cameras = [...this.#stopTimers.keys()];
    for (const t of this.#stopTimers.values()) clearTimeout(t);
    this.#stopTimers.clear();
    await Promise.allSettled(cameras.map((cam) => this.#sendStop(cam)));
    await Promise.allSettled([...this.#queues.values()]);
  }

  async #do(camera: string, c: Connected, req: PtzRequest): Promise<PtzResult> {
    const profileToken = c.profileToken;
    switch (req.action) {
      case "move": {
        const { pan, tilt, zoom } = req.velocity;
        await call((cb) =>
          c.cam.continuousMove({ profileToken, x: pan, y: tilt, zoom, timeout: req.timeoutMs }, cb)
        );
        this.#armStop(camera, req.timeoutMs);
        return { action: "move", velocity: req.velocity, stopsAfterMs: req.timeoutMs };
      }
      case "stop":
        this.#disarmStop(camera);
        await call((cb) => c.cam.stop({ profileToken, panTilt: true, zoom: true }, cb));
        return { action: "stop" };
      case "presets":
        return { action: "presets", presets: await this.#presets(c) };
      case "goto":
        this.#disarmStop(camera);
        await call((cb) => c.cam.gotoPreset({ profileToken, preset: req.preset }, cb));
        return { action: "goto", preset: req.preset };
      case "save": {
        const { xml } = await call((cb) =>
          c.cam.setPreset({
            profileToken,
            presetName: xmlEscape(req.name),
            ...(req.preset !== undefined ? { presetToken: req.preset } : {}),
          }, cb)
        );
        const token = /<(?:[\w.-]+:)?PresetToken>\s*([^<\s]{1,64})\s*</.exec(xml)?.[1] ??
          req.preset;
        if (token === undefined) throw new Error("SetPreset answered without a PresetToken");
        return { action: "save", preset: token, name: req.name };
      }
    }
  }

  async #presets(c: Connected): Promise<PtzPresetInfo[]> {
    await call((cb) => c.cam.getPresets({ profileToken: c.profileToken }, cb));
    // The client keys its result by name (losing presets that share one); its `presets` by token.
    return Object.values(c.cam.presets ?? {}).map((p) => ({
      token: String(p.$.token),
      name: typeof p.name === "string" ? p.name : String(p.$.token),
    }));
  }

  #armStop(camera: string, ms: number): void {
    this.#disarmStop(camera);
    if (this.#closed) return;
    this.#stopTimers.set(
      camera,
      setTimeout(() => {
        this.#stopTimers.delete(camera);
        void this.#serial(camera, () => this.#sendStop(camera)).catch(() => {});
      }, ms),
    );
  }

  #disarmStop(camera: string): void {
    const t = this.#stopTimers.get(camera);
    if (t !== undefined) clearTimeout(t);
    this.#stopTimers.delete(camera);
  }

  async #sendStop(camera: string): Promise<void> {
    const c = await this.#connect(camera);
    await call((cb) => c.cam.stop({ profileToken: c.profileToken, panTilt: true, zoom: true }, cb));
  }

  #serial<T>(camera: string, work: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(camera) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.then(() => {}, () => {});
    this.#queues.set(camera, settled);
    void settled.then(() => {
      if (this.#queues.get(camera) === settled) this.#queues.delete(camera);
    });
    return run;
  }

  #connect(camera: string): Promise<Connected> {
    const target = this.#opts.target(camera);
    if (target === undefined) {
      return Promise.reject(new PtzError("unknown-camera", `No camera '${camera}'`));
    }
    if (target === null) {
      return Promise.reject(
        new PtzError(
          "no-onvif",
          `Camera '${camera}' has no ONVIF address, so it cannot pan, tilt or zoom here; set ` +
            `cameras[].onvif.url (or add it by its ONVIF address)`,
        ),
      );
    }
    const key = targetKey(target);
    const cached = this.#connected.get(camera);
    if (cached !== undefined) {
      return cached.then((c) => {
        if (c.key === key) return c;
        this.#connected.delete(camera);
        return this.#connect(camera);
      });
    }
    const connecting = (async (): Promise<Connected> => {
      const cam = onvifCam<PtzCam>(new URL(target.url), {
        username: target.username,
        password: target.password,
        timeoutMs: this.#opts.requestTimeoutMs ?? 3000,
      });
      try {
        await call((cb) => cam.connect(cb));
      } catch (err) {
        throw new PtzError(
          "camera-failed",
          `Camera '${camera}' did not answer over ONVIF at ${new URL(target.url).host}: ${
            (err as Error).message
          }`,
          { cause: err },
        );
      }
      const profile = (cam.profiles ?? []).find((p) => p.PTZConfiguration !== undefined);
      if (!cam.uri?.ptz || profile === undefined) {
        this.#noPtz.set(camera, key);
        throw new PtzError(
          "no-ptz",
          `Camera '${camera}' has no PTZ (its ONVIF service lists no PTZ service or no media ` +
            `profile with a PTZ configuration)`,
        );
      }
      return { key, cam, profileToken: profile.$.token };
    })();
    this.#connected.set(camera, connecting);
    connecting.catch(() => {
      if (this.#connected.get(camera) === connecting) this.#connected.delete(camera);
    });
    return connecting;
  }

  #wrap(camera: string, action: string, err: unknown): PtzError {
    if (err instanceof PtzError) return err;
    return new PtzError(
      "camera-failed",
      `Camera '${camera}' refused or failed the PTZ ${action}: ${
        String((err as Error)?.message ?? err).slice(0, 300)
      }`,
      { cause: err },
    );
  }
}

/** What identifies the camera a connection was made to. */
function targetKey(t: { url: string; username: string | null; password: string | null }): string {
  return `${t.url}\n${t.username ?? ""}\n${t.password ?? ""}`;
}
