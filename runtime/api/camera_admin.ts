/**
 * Cameras as their own routes (admins): add by RTSP URL or by ONVIF address, change, remove.
 * Each builds the next configuration from the one in the file, under the config file's lock (two
 * changes at once both land), and goes through the same checks and apply path as a whole
 * configuration (errors name the key; nothing changes on an error).
 */
import { type Context, Hono } from "hono";
import { ConfigError } from "../config/mod.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import type { CameraConfig, NvrConfig } from "../config/types.ts";
import { audit, type AuthDeps, authenticate, type AuthEnv, requireRole } from "./auth_context.ts";
import { ApiError, readJsonObject } from "./errors.ts";
import { onvifProfiles, OnvifStreamError, onvifStreams } from "./onvif_streams.ts";
import {
  discoverCameras,
  DiscoverError,
  type DiscoverRequest,
  type DiscoverResult,
  type KnownCamera,
} from "../onvif/discover.ts";
import { boxInterfaces, resolveInterface } from "../onvif/interfaces.ts";

export interface CameraAdminDeps {
  readonly auth: AuthDeps;
  readonly config: () => NvrConfig;
  /** Read-modify-write of the configuration under one lock (see SystemDeps.updateConfig). */
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
  /** Resolves an ONVIF address to stream URLs; default: ask the camera (onvif_streams.ts). */
  readonly onvif?: typeof onvifStreams;
  /** Lists an ONVIF camera's profiles; default: ask the camera (onvif_streams.ts). */
  readonly profiles?: typeof onvifProfiles;
  /** Finds cameras not yet added (WS-Discovery, address scan); default onvif/discover.ts. */
  readonly discover?: (
    req: DiscoverRequest,
    known: readonly KnownCamera[],
  ) => Promise<DiscoverResult>;
}

/** The configured cameras as discovery needs them. */
export function knownCameras(config: NvrConfig): KnownCamera[] {
  return config.cameras.map((c) => ({ id: c.id, url: c.url, onvifUrl: c.onvif?.url ?? null }));
}

/**
 * A discovery request from untrusted JSON (API body, fleet command); throws ApiError naming the
 * field. `interface` (a name or an IPv4 address of the box) is checked against `interfaces`, the
 * box's own (Deno.networkInterfaces()).
 */
export function discoverRequest(
  body: Record<string, unknown>,
  interfaces?: readonly Deno.NetworkInterfaceInfo[],
): DiscoverRequest {
  const allowed = [
    "multicast",
    "range",
    "ports",
    "username",
    "password",
    "timeoutMs",
    "interface",
  ];
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  const bad = (field: string, what: string) =>
    new ApiError(400, "invalid", `${field}: ${what}`, field);
  if (extra) throw bad(extra, `unknown field; known: ${allowed.join(", ")}`);
  const { multicast, range, ports, username, password, timeoutMs } = body;
  if (multicast !== undefined && typeof multicast !== "boolean") {
    throw bad("multicast", "true or false");
  }
  if (range !== undefined && range !== null && (typeof range !== "string" || range.length > 64)) {
    throw bad("range", 'an IPv4 address, "first-last" or a CIDR block');
  }
  if (ports !== undefined && (!Array.isArray(ports) || ports.some((p) => typeof p !== "number"))) {
    throw bad("ports", "a list of port numbers, e.g. [80, 8080]");
  }
  for (const [k, v] of [["username", username], ["password", password]] as const) {
    if (v !== undefined && v !== null && (typeof v !== "string" || v.length > 256)) {
      throw bad(k, "a string of at most 256 characters, or null");
    }
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || timeoutMs < 200 || timeoutMs > 10_000)
  ) throw bad("timeoutMs", "200 to 10000");
  const iface = body.interface;
  let interfaceAddress: string | null = null;
  if (iface !== undefined && iface !== null) {
    if (typeof iface !== "string" || iface.length > 64) {
      throw bad("interface", 'an interface name or one of the box\'s IPv4 addresses, e.g. "eth0"');
    }
    try {
      interfaceAddress = resolveInterface(iface, interfaces);
    } catch (err) {
      if (err instanceof DiscoverError) throw new ApiError(400, "invalid", err.message, err.field);
      throw err;
    }
  }
  return {
    ...(interfaceAddress !== null ? { interfaceAddress } : {}),
    ...(multicast !== undefined ? { multicast } : {}),
    ...(typeof range === "string" ? { range } : {}),
    ...(ports !== undefined ? { ports: ports as number[] } : {}),
    ...(typeof username === "string" ? { username } : {}),
    ...(typeof password === "string" ? { password } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs: timeoutMs as number } : {}),
  };
}

const CAMERA_KEYS = [
  "id",
  "name",
  "url",
  "subUrl",
  "enabled",
  "transport",
  "codec",
  "username",
  "password",
  "retentionDays",
  "width",
  "height",
  "fps",
  "onvif",
];

export function cameraAdminRoutes(deps: CameraAdminDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", authenticate(deps.auth));
  const admin = requireRole(deps.auth, "admin");
  const resolve = deps.onvif ?? onvifStreams;

  /** `edit` turns the cameras in the file into the next ones; it runs under the lock. */
  const apply = async (
    // deno-lint-ignore no-explicit-any
    c: Context<AuthEnv, any>,
    action: string,
    edit: (current: readonly CameraConfig[]) => unknown[],
  ) => {
    try {
      const next = await deps.updateConfig((current) => {
        try {
          return remoteConfig({ ...current, cameras: edit(current.cameras) }, current, {
            by: "through the API",
            source: "the camera change",
            markerFrom: "GET /api/config",
          });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          const field = /^cameras\[\d+\]\.(\w+)/.exec(err.problems[0] ?? "")?.[1];
          throw new ApiError(400, "invalid_camera", err.problems.join("; "), field);
        }
      });
      audit(deps.auth, c, action, "cameras", "ok");
      return next;
    } catch (err) {
      audit(deps.auth, c, action, "cameras", "failed");
      throw err;
    }
  };

  app.post("/", admin, async (c) => {
    const body = await readJsonObject(c);
    const { onvif, ...camera } = body as Record<string, unknown> & { onvif?: unknown };
    unknownKeys(camera);
    const byAddress = typeof onvif === "object" && onvif !== null && "address" in onvif;
    // `onvif: { url, … }` without `address` is the config key itself, checked with the rest.
    if (onvif !== undefined && !byAddress && typeof camera.url === "string") camera.onvif = onvif;
    else if (onvif !== undefined) {
      if (
        typeof onvif !== "object" || onvif === null ||
        typeof (onvif as { address?: unknown }).address !== "string"
      ) {
        throw new ApiError(
          400,
          "invalid",
          "onvif: give { address, username?, password?, mainProfile?, subProfile? } to add by " +
            "ONVIF, or url and onvif: { url }",
          "onvif",
        );
      }
      const o = onvifAddress(onvif as Record<string, unknown>);
      const choice = {
        ...(o.mainProfile !== undefined ? { main: o.mainProfile } : {}),
        ...(o.subProfile !== undefined ? { sub: o.subProfile } : {}),
      };
      const found = await resolve(
        o.address,
        {
          username: o.username ?? null,
          password: o.password ?? null,
        },
        undefined,
        choice,
      )
        .catch((err) => {
          throw new ApiError(502, "onvif_failed", (err as Error).message, "onvif");
        });
      Object.assign(camera, {
        url: found.url,
        // The device service stays with the camera: its identity in the fingerprint, later PTZ.
        ...(found.deviceUrl ? { onvif: { url: found.deviceUrl } } : {}),
        codec: camera.codec ?? found.codec,
        ...(found.subUrl && camera.subUrl === undefined ? { subUrl: found.subUrl } : {}),
        ...(o.username ? { username: o.username, password: o.password ?? null } : {}),
      });
    }
    const next = await apply(c, "camera.add", (current) => {
      if (current.some((x) => x.id === camera.id)) {
        throw new ApiError(
          409,
          "exists",
          `A camera '${String(camera.id)}' exists; change it instead`,
          "id",
        );
      }
      return [...current, camera];
    });
    return c.json({ camera: next.cameras.find((x) => x.id === camera.id) }, 201);
  });

  // The second step of adding a found camera: are the credentials right, and which profiles does
  // it have (main stream to record, sub-stream to view). Asks the camera only; changes nothing.
  app.post("/onvif-profiles", admin, async (c) => {
    const body = await readJsonObject(c);
    const extra = Object.keys(body).find((k) => !["address", "username", "password"].includes(k));
    if (extra) {
      throw new ApiError(
        400,
        "invalid",
        `${extra}: unknown field; known: address, username, password`,
        extra,
      );
    }
    const o = onvifAddress(body);
    try {
      const found = await (deps.profiles ?? onvifProfiles)(o.address, {
        username: o.username ?? null,
        password: o.password ?? null,
      });
      return c.json({ credentials: "ok", ...found });
    } catch (err) {
      if (err instanceof OnvifStreamError && err.kind === "credentials") {
        return c.json({ credentials: "refused", error: err.message, profiles: [] });
      }
      throw new ApiError(502, "onvif_failed", (err as Error).message, "address");
    }
  });

  // The interfaces a probe may leave by, for the Find cameras page's choice.
  app.get("/discover/interfaces", admin, (c) => c.json({ interfaces: boxInterfaces() }));

  // Finds cameras not yet added: a WS-Discovery probe and/or a scan of the range given. Audited
  // (it sends packets on the LAN for the box), the password never in the audit or the answer.
  app.post("/discover", admin, async (c) => {
    const req = discoverRequest(await readJsonObject(c));
    try {
      const result = await (deps.discover ?? discoverCameras)(req, knownCameras(deps.config()));
      audit(deps.auth, c, "camera.discover", req.range ?? "multicast", "ok");
      return c.json(result);
    } catch (err) {
      audit(deps.auth, c, "camera.discover", req.range ?? "multicast", "failed");
      if (err instanceof DiscoverError) throw new ApiError(400, "invalid", err.message, err.field);
      throw new ApiError(502, "discover_failed", (err as Error).message);
    }
  });

  app.patch("/:camera", admin, async (c) => {
    const id = c.req.param("camera");
    const changes = await readJsonObject(c);
    unknownKeys(changes);
    if (changes.id !== undefined && changes.id !== id) {
      throw new ApiError(
        400,
        "invalid",
        "id: a camera keeps its id; remove it and add another",
        "id",
      );
    }
    const next = await apply(c, "camera.change", (current) => {
      if (!current.some((x) => x.id === id)) {
        throw new ApiError(404, "not_found", `No camera '${id}'`);
      }
      return current.map((x: CameraConfig) => x.id === id ? { ...x, ...changes } : x);
    });
    return c.json({ camera: next.cameras.find((x) => x.id === id) });
  });

  app.delete("/:camera", admin, async (c) => {
    const id = c.req.param("camera");
    await apply(c, "camera.remove", (current) => {
      if (!current.some((x) => x.id === id)) {
        throw new ApiError(404, "not_found", `No camera '${id}'`);
      }
      return current.filter((x) => x.id !== id);
    });
    return c.body(null, 204);
  });
  return app;
}

/** `{ address, username?, password?, mainProfile?, subProfile? }` from untrusted JSON. */
function onvifAddress(o: Record<string, unknown>): {
  address: string;
  username?: string;
  password?: string;
  mainProfile?: string;
  subProfile?: string | null;
} {
  const bad = (field: string, what: string) =>
    new ApiError(400, "invalid", `${field}: ${what}`, field);
  const { address, username, password, mainProfile, subProfile } = o;
  if (typeof address !== "string" || address === "" || address.length > 256) {
    throw bad("address", 'host:port or the device service URL, e.g. "192.168.1.20:80"');
  }
  for (const [k, v] of [["username", username], ["password", password]] as const) {
    if (v !== undefined && v !== null && (typeof v !== "string" || v.length > 256)) {
      throw bad(k, "a string of at most 256 characters, or null");
    }
  }
  if (mainProfile !== undefined && (typeof mainProfile !== "string" || mainProfile.length > 64)) {
    throw bad("mainProfile", "a profile token from POST /api/cameras/onvif-profiles");
  }
  if (
    subProfile !== undefined && subProfile !== null &&
    (typeof subProfile !== "string" || subProfile.length > 64)
  ) throw bad("subProfile", "a profile token, or null for no sub-stream");
  return {
    address,
    ...(typeof username === "string" ? { username } : {}),
    ...(typeof password === "string" ? { password } : {}),
    ...(typeof mainProfile === "string" ? { mainProfile } : {}),
    ...(subProfile !== undefined ? { subProfile: subProfile as string | null } : {}),
  };
}

function unknownKeys(obj: Record<string, unknown>): void {
  const extra = Object.keys(obj).filter((k) => !CAMERA_KEYS.includes(k));
  if (extra.length > 0) {
    throw new ApiError(
      400,
      "invalid",
      `${extra[0]}: unknown field; known: ${CAMERA_KEYS.join(", ")}`,
      extra[0],
    );
  }
}
