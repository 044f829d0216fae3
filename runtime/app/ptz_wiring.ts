/**
 * PTZ in the daemon: one PtzService (runtime/onvif/ptz.ts) for the API and the fleet `ptz`
 * command, aimed at each camera's configured ONVIF address. The API audits its own requests (with
 * the user); the fleet's are audited here, as user "fleet", with their outcome.
 */
import type { AuditInput, AuditLog } from "../audit/audit_log.ts";
import type { NvrConfig } from "../config/types.ts";
import { ptzTarget } from "../api/ptz_routes.ts";
import { ProtocolError, type PtzCommand, ptzRequestOf } from "../fleet/schema.ts";
import type { Json } from "../fleet/schema.ts";
import { PtzError, PtzService } from "../onvif/ptz.ts";

export function createPtz(config: () => NvrConfig): PtzService {
  return new PtzService({ target: (id) => ptzTarget(config(), id) });
}

/**
 * The fleet `ptz` hook: runs the command, audits it, maps PtzError to the fleet's codes. `audit`
 * null (the audit log is not open yet): refused, since every move must be audited.
 */
export function fleetPtz(
  ptz: Pick<PtzService, "run">,
  auditLog: () => Pick<AuditLog, "record"> | null,
): (command: PtzCommand) => Promise<Json> {
  return async (command) => {
    const req = ptzRequestOf(command);
    const log = auditLog();
    if (log === null) {
      throw new ProtocolError(
        "refused",
        "PTZ moves are audited and the audit log is not open yet (the recording disk is " +
          "missing or still being checked); send the command again once the box is recording",
      );
    }
    const audit = (e: AuditInput) => {
      try {
        log.record(e);
      } catch { /* a full disk: the move was allowed, the command result says what happened */ }
    };
    const target = `camera:${command.camera}` +
      (req.action === "goto" ? ` preset:${req.preset}` : "") +
      (req.action === "save" ? ` preset:${req.name}` : "");
    const record = (outcome: AuditInput["outcome"]) => {
      if (req.action === "presets") return; // a look, not a move (the API does not audit it either)
      audit({
        userId: null,
        userName: "fleet",
        action: `ptz.${req.action}`,
        target,
        ip: "",
        userAgent: "fleet command",
        outcome,
      });
    };
    try {
      const result = await ptz.run(command.camera, req);
      record("ok");
      return JSON.parse(JSON.stringify({ camera: command.camera, ...result })) as Json;
    } catch (err) {
      record("failed");
      if (err instanceof PtzError) {
        if (err.kind === "unknown-camera") throw new ProtocolError("unknown-camera", err.message);
        if (err.kind === "no-onvif" || err.kind === "no-ptz") {
          throw new ProtocolError("refused", err.message);
        }
      }
      throw err;
    }
  };
}
