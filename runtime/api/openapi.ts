/**
 * The OpenAPI 3.1 description of the users/auth/audit routes, served at GET /api/openapi.json.
 * Routes added elsewhere pass their own `paths` to `openApiDocument`; a test checks that every
 * registered route is described.
 */

type Op = { summary: string; public?: true; body?: string };
export type PathOps = Record<string, Record<string, Op>>;

export const AUTH_PATHS: PathOps = {
  "/api/setup": {
    get: {
      summary:
        "Whether first-run setup is still open, and the privacy notice: {open, privacyNotice}",
      public: true,
    },
    post: {
      summary: "Create the first admin (only while no user exists) with the one-time setup code " +
        "printed at start; 429 + Retry-After when throttled",
      public: true,
      body: "profile+password+setupCode+acceptPrivacyNotice",
    },
  },
  "/api/auth/login": {
    post: {
      summary: "Log in; sets the session cookie and returns csrfToken; 429 + Retry-After when " +
        "too many guesses came from this address",
      public: true,
      body: "email, password",
    },
  },
  "/api/auth/logout": { post: { summary: "End this session" } },
  "/api/me": {
    get: { summary: "My profile (and csrfToken for a cookie session)" },
    patch: { summary: "Edit my personal data; password needs currentPassword", body: "profile" },
    delete: { summary: "Delete my account and personal data", body: "password" },
  },
  "/api/me/export": { get: { summary: "Everything stored about me, as JSON" } },
  "/api/me/tokens": {
    post: {
      summary: "Create an API token (shown once; signed-in session only): scope read-only " +
        "(default) or operator, expiresInDays 1-365 (default 90)",
      body: "name, scope?, expiresInDays?",
    },
  },
  "/api/me/tokens/{id}": {
    delete: { summary: "Revoke one of my API tokens (signed-in session only)" },
  },
  "/api/users": {
    get: { summary: "List users (admin)" },
    post: { summary: "Create a user (admin)", body: "profile+role+cameras+password" },
  },
  "/api/users/{id}": {
    patch: { summary: "Change a user (admin)", body: "profile+role+cameras+disabled+password" },
    delete: { summary: "Delete a user; their audit entries are pseudonymised (admin)" },
  },
  "/api/audit": {
    get: { summary: "Audit entries, newest first; ?from&to&user&action&limit (admin)" },
  },
  "/api/audit/export": { get: { summary: "Audit entries as a JSON download (admin)" } },
  "/api/invites": {
    get: { summary: "Pending invitations (admin)" },
    post: {
      summary: "Invite someone: single-use token, 7 days (admin)",
      body: "role, cameras?, email?",
    },
  },
  "/api/invites/{id}": { delete: { summary: "Revoke an invitation (admin)" } },
  "/api/invites/accept": {
    post: {
      summary: "Create my account from an invitation",
      public: true,
      body: "token+profile+password+acceptPrivacyNotice",
    },
  },
  "/api/openapi.json": { get: { summary: "This document" } },
};

/** The routes of system.ts (health, config, events). */
export const SYSTEM_PATHS: PathOps = {
  "/api/cameras": {
    post: {
      summary: "Add a camera by RTSP URL, or by ONVIF address ({onvif: {address, username?, " +
        "password?, mainProfile?, subProfile?}}: the chosen profiles' stream URIs are asked); " +
        "applied at once (admin)",
      body: "camera fields (docs/config.md cameras[]) and/or onvif",
    },
  },
  "/api/cameras/onvif-profiles": {
    post: {
      summary: "Check {username, password} on an ONVIF camera at {address} and list its " +
        "profiles (token, encoding, size, fps) to pick the main and sub-stream; changes nothing " +
        "(admin)",
      body: "address, username?, password?",
    },
  },
  "/api/cameras/discover": {
    post: {
      summary: "Find ONVIF cameras not yet added: a WS-Discovery probe and/or a scan of " +
        "{range, ports}; each with vendor, model, address and whether {username, password} work; " +
        "withoutOnvif: devices at the host of a camera added by RTSP URL only, to link with " +
        "PATCH /api/cameras/{camera} {onvif: {url}} (admin, audited)",
      body: "multicast?, range?, ports?, username?, password?, timeoutMs?, interface? (a name " +
        "or IPv4 address of the box's, as GET /api/cameras/discover/interfaces lists them)",
    },
  },
  "/api/cameras/discover/interfaces": {
    get: {
      summary: "The box's IPv4 interfaces (name, address; loopback left out) a WS-Discovery " +
        "probe may leave by (admin)",
    },
  },
  "/api/cameras/{camera}": {
    patch: { summary: "Change a camera's fields; applied at once (admin)", body: "camera fields" },
    delete: { summary: "Remove a camera from the config; its recordings stay (admin)" },
  },
  "/api/cameras/{camera}/ptz": {
    get: {
      summary: "Whether the camera can pan, tilt and zoom: its presets and where it points " +
        "(operator, a camera I have; 409 ptz_unavailable without ONVIF PTZ)",
    },
  },
  "/api/cameras/{camera}/ptz/move": {
    post: {
      summary: "Continuous move at velocities -1..1; stops by itself after timeoutMs " +
        "(100..10000, default 1000) (operator, audited)",
      body: "pan?, tilt?, zoom?, timeoutMs?",
    },
  },
  "/api/cameras/{camera}/ptz/stop": {
    post: { summary: "Stop pan, tilt and zoom (operator, audited)" },
  },
  "/api/cameras/{camera}/ptz/presets": {
    get: { summary: "The camera's presets: [{token, name}] (operator)" },
    post: {
      summary: "Save the current position as a preset (a new one, or over `preset`) " +
        "(operator, audited)",
      body: "name, preset?",
    },
  },
  "/api/cameras/{camera}/ptz/presets/{preset}/goto": {
    post: { summary: "Go to a preset (operator, audited)" },
  },
  "/api/health": {
    get: { summary: "Health sample: CPU, memory, disks, temperatures, the cameras I may see" },
  },
  "/api/config": {
    get: { summary: "The running configuration, secrets redacted (admin)" },
    put: {
      summary: "Replace the configuration; validated like the file, then applied (admin)",
      body: "configuration (docs/config.md)",
    },
  },
  "/api/settings/schema": {
    get: {
      summary: "What the Settings form may edit: exactly the keys changeable remotely, each with " +
        "type, bounds, default, value now, description and when it applies (admin)",
    },
  },
  "/api/settings": {
    patch: {
      summary: "Change only the keys sent, validated like PUT /api/config; each problem named " +
        "with the form's key (admin, audited)",
      body: '{ changes: { "http.transcodesMax": 3, "cameras.<id>.enabled": false } }',
    },
  },
  "/api/analytics/consent": {
    get: { summary: "Whether anonymous usage statistics are on, and the notice text (admin)" },
    put: {
      summary: "Give or withdraw analytics consent, naming the notice version; audited (admin)",
      body: "{ enabled, noticeVersion }",
    },
  },
  "/api/events/recent": {
    get: {
      summary: "The last ?limit= events (1..500, default 100) for the cameras I may see, " +
        "newest first: what happened before the event stream was opened",
    },
  },
  "/api/events": {
    get: {
      summary: "Server-sent events (text/event-stream) for the cameras I may see; Last-Event-ID",
    },
  },
};

/** Cameras and recordings (recordings.ts). */
export const RECORDINGS_PATHS: PathOps = {
  "/api/cameras": { get: { summary: "The cameras I may see, with state, plan and live stats" } },
  "/api/cameras/{camera}/live.mp4": {
    get: {
      summary: "Live H.264 (the shared sub-stream, else the restreamed main stream) as one " +
        "fragmented MP4 body (video/mp4) until the client closes; 404 with the reason when no " +
        "H.264 stream can be shown, 429 over the viewer cap, 503 when no picture comes",
    },
  },
  "/api/cameras/{camera}/snapshot": {
    get: { summary: "JPEG of the camera's latest keyframe (image/jpeg)" },
  },
  "/api/recordings": {
    get: {
      summary: "Segments and gaps of ?camera= between ?from= and ?to= (ms or ISO 8601); a " +
        'segment with clock "unsynced" was recorded before the clock was set (time unknown)',
    },
  },
  "/api/recordings/{id}/download": { get: { summary: "One segment as recorded (video/mp4)" } },
  "/api/cameras/{camera}/days": {
    get: {
      summary: "Days with recordings in ?tz= (IANA zone, default UTC), oldest first, with the " +
        "oldest start and newest end",
    },
  },
  "/api/cameras/{camera}/playlist.m3u8": {
    get: {
      summary: "fMP4 HLS playlist of ?from= to ?to= (ms or ISO 8601, at most 24 h apart), " +
        "built from the index; gaps are discontinuities with a program date time (audited); " +
        "&codec=h264: H.264 MPEG-TS parts transcoded from H.265 (h264.ts)",
    },
  },
  "/api/cameras/{camera}/events": {
    get: { summary: "The camera's events from ?from= to ?to= (at most 31 days; 2000 newest)" },
  },
  "/api/recordings/{id}/init.mp4": { get: { summary: "A segment's init part (EXT-X-MAP)" } },
  "/api/recordings/{id}/media.m4s": {
    get: { summary: "A segment's media part, retimed to start ?at= ms into its run" },
  },
  "/api/recordings/{id}/h264.ts": {
    get: {
      summary: "A segment in H.264 MPEG-TS at ≤ 640 px (transcoded from H.265); " +
        "503 + Retry-After when the box's transcodes are all in use",
    },
  },
  "/api/recordings/{id}/thumb.jpg": {
    get: {
      summary: "A small JPEG of the segment's first keyframe, cached on the data disk; " +
        "503 + Retry-After when busy",
    },
  },
  "/api/recordings/export": {
    post: { summary: "Alias of POST /api/exports (older scripts)", body: "{camera, from, to}" },
  },
  "/api/exports": {
    get: {
      summary: "Export jobs: the user's own (admins: all), newest first, with state and size",
    },
    post: {
      summary: "Ask for an export of a camera's time range (at most 3 h) as one MP4: a job, " +
        "queued then run (2 at once) into a file on the data disk; done keeps (locks) its " +
        "recordings. 429 + Retry-After when 10 wait or run. Operators and admins",
      body: "{camera, from, to}",
    },
  },
  "/api/exports/{id}/download": {
    get: { summary: "A done export's file (video/mp4, attachment), any time later" },
  },
  "/api/exports/{id}": {
    delete: {
      summary: "Delete an export and its file (stops it if it runs); the recordings it kept " +
        "stay kept (release them on the camera page). Operators and admins",
    },
  },
  "/api/recordings/lock": {
    post: {
      summary: "Keep a camera's recordings in a time range from deletion, or release them " +
        "(locked: false). Operators and admins",
      body: "{camera, from, to, locked?}",
    },
  },
};

/** Notification contacts of other people (contacts_routes.ts), admins and operators. */
export const CONTACT_PATHS: PathOps = {
  "/api/contacts": {
    get: { summary: "Notification contacts (name, email, phone)" },
    post: { summary: "Add a contact: name and an email or phone", body: "{name, email?, phone?}" },
  },
  "/api/contacts/{id}": {
    patch: { summary: "Change a contact", body: "{name?, email?, phone?}" },
    delete: { summary: "Delete a contact and its personal data" },
  },
};

/** Every /api route the daemon serves. */
export const ALL_PATHS: PathOps = mergePaths(
  AUTH_PATHS,
  SYSTEM_PATHS,
  RECORDINGS_PATHS,
  CONTACT_PATHS,
);

/** Several path tables into one; methods of a path that appears twice are combined. */
function mergePaths(...tables: PathOps[]): PathOps {
  const out: Record<string, PathOps[string]> = {};
  for (const table of tables) {
    for (const [path, ops] of Object.entries(table)) out[path] = { ...out[path], ...ops };
  }
  return out;
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        field: { type: "string", description: "The request field that was wrong" },
      },
    },
  },
};

/** Builds the document from path descriptions (path params written as {id}). */
export function openApiDocument(version: string, paths: PathOps = AUTH_PATHS): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [path, ops] of Object.entries(paths)) {
    out[path] = {};
    for (const [method, op] of Object.entries(ops)) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      out[path][method] = {
        summary: op.summary,
        ...(op.public ? { security: [] } : {}),
        ...(params.length ? { parameters: params } : {}),
        ...(op.body
          ? {
            requestBody: {
              description: op.body,
              content: { "application/json": { schema: { type: "object" } } },
            },
          }
          : {}),
        responses: {
          "2XX": { description: "Success" },
          default: {
            description: "Error",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
          },
        },
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: "NVR local API", version },
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        session: { type: "apiKey", in: "cookie", name: "nvr_session" },
        bearer: { type: "http", scheme: "bearer" },
      },
    },
    security: [{ session: [] }, { bearer: [] }],
    paths: out,
  };
}
