/**
 * The fleet's `onvif-profiles` and `add-camera` commands: a found camera added by its ONVIF
 * address, as the page's two clicks do it (api/camera_admin.ts, POST /api/cameras/onvif-profiles
 * then POST /api/cameras with `onvif.address`). The command was validated by fleet/schema.ts; the
 * new configuration goes through the daemon's own change (remoteConfig: validated like the file,
 * only keys changeable remotely), is reported to the fleet as a local change, and each add is
 * audited as user "fleet". The password reaches the camera and the config file only: never the
 * result, the audit or an error message.
 */
import type { AuditInput, AuditLog } from "../audit/audit_log.ts";
import { onvifProfiles, OnvifStreamError, onvifStreams } from "../api/onvif_streams.ts";
import { ConfigError } from "../config/mod.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import type { NvrConfig } from "../config/types.ts";
import {
  type AddCameraCommand,
  type Json,
  type OnvifProfilesCommand,
  ProtocolError,
} from "../fleet/schema.ts";
import { redactUrl } from "../lib/redact_url.ts";

export interface FleetCamerasDeps {
  /** The configuration running now. */
  readonly config: () => NvrConfig;
  /** The daemon's local change (written, applied, reported to the fleet as "local"). */
  readonly updateConfig: (
    change: (current: NvrConfig) => NvrConfig | Promise<NvrConfig>,
  ) => Promise<NvrConfig>;
  /** The audit log, null while it is not open (the add is then not audited). */
  readonly audit: () => Pick<AuditLog, "record"> | null;
  /** Ask the camera (tests may replace them); default api/onvif_streams.ts. */
  readonly profiles?: typeof onvifProfiles;
  readonly streams?: typeof onvifStreams;
}

export interface FleetCameras {
  readonly onvifProfiles: (command: OnvifProfilesCommand) => Promise<Json>;
  readonly addCamera: (command: AddCameraCommand) => Promise<Json>;
}

/** `text` with the password taken out, should a camera's answer have repeated it. */
function scrub(text: string, password: string | undefined): string {
  return password ? text.split(password).join("***") : text;
}

const toJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as Json;

export function fleetCameras(deps: FleetCamerasDeps): FleetCameras {
  const credentials = (c: { username?: string; password?: string }) => ({
    username: c.username ?? null,
    password: c.password ?? null,
  });
  const record = (e: Omit<AuditInput, "userId" | "userName" | "ip" | "userAgent">) => {
    try {
      deps.audit()?.record({
        userId: null,
        userName: "fleet",
        ip: "",
        userAgent: "fleet command",
        ...e,
      });
    } catch { /* a full disk: the command result says what happened */ }
  };

  return {
    async onvifProfiles(command) {
      try {
        const found = await (deps.profiles ?? onvifProfiles)(
          command.address,
          credentials(command),
        );
        return toJson({ credentials: "ok", ...found });
      } catch (err) {
        const message = scrub((err as Error).message, command.password);
        if (err instanceof OnvifStreamError && err.kind === "credentials") {
          return toJson({ credentials: "refused", error: message, profiles: [] });
        }
        throw new Error(message);
      }
    },

    async addCamera(command) {
      const { id } = command;
      const exists = () =>
        new ProtocolError(
          "refused",
          `a camera '${id}' exists on this box; choose another id, or change that camera with ` +
            "apply-config",
        );
      if (deps.config().cameras.some((c) => c.id === id)) throw exists();
      const target = `camera:${id}`;
      try {
        let found;
        try {
          found = await (deps.streams ?? onvifStreams)(
            command.address,
            credentials(command),
            undefined,
            {
              ...(command.mainProfile !== undefined ? { main: command.mainProfile } : {}),
              ...(command.subProfile !== undefined ? { sub: command.subProfile } : {}),
            },
          );
        } catch (err) {
          const message = scrub((err as Error).message, command.password);
          // The credentials or a profile the camera does not have: the sender can fix it.
          if (
            err instanceof OnvifStreamError &&
            (err.kind === "credentials" || /Profile:/.test(message))
          ) {
            throw new ProtocolError("refused", message);
          }
          throw new Error(message);
        }
        const camera = {
          id,
          ...(command.name !== undefined ? { name: command.name } : {}),
          url: found.url,
          codec: found.codec,
          ...(found.subUrl ? { subUrl: found.subUrl } : {}),
          // The device service stays with the camera: identity, events, PTZ, its clock.
          onvif: { url: found.deviceUrl ?? command.address },
          ...(command.username !== undefined
            ? { username: command.username, password: command.password ?? null }
            : {}),
        };
        const next = await deps.updateConfig((current) => {
          if (current.cameras.some((c) => c.id === id)) throw exists();
          try {
            return remoteConfig({ ...current, cameras: [...current.cameras, camera] }, current, {
              by: "from the fleet",
              source: "the add-camera command",
              markerFrom: "get-config",
            });
          } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            const problems = err.problems.map((p) => scrub(p, command.password));
            throw new ProtocolError("config-rejected", problems.join("; "), problems);
          }
        });
        const added = next.cameras.find((c) => c.id === id);
        record({ action: "camera.add", target, outcome: "ok" });
        return toJson({
          camera: {
            id,
            name: added?.name ?? id,
            url: redactUrl(added?.url ?? camera.url),
            subUrl: added?.subUrl ? redactUrl(added.subUrl) : null,
            codec: added?.codec ?? camera.codec,
            onvif: { url: redactUrl(added?.onvif?.url ?? camera.onvif.url) },
          },
        });
      } catch (err) {
        record({ action: "camera.add", target, outcome: "failed" });
        throw err;
      }
    },
  };
}
