/**
 * Which cameras may record under a licence status.
 *
 * - valid, grace: the first `maxCameras` enabled cameras in config order; the rest are refused.
 *   Grace records as licensed: it exists so a renewal can arrive without a recording gap.
 * - expired, tampered, foreign, none: only `unlicensedCameras` (default 0) — the daemon chooses
 *   whether an unlicensed box records anything (a demo or a box not registered yet may need 1+).
 * Config order is the order of the config file's `cameras` list, so an admin decides which
 * cameras keep recording by their order.
 */
import type { LicenceStatus } from "./types.ts";

export interface CameraLimit {
  readonly allowed: string[];
  readonly refused: string[];
  /** The limit applied. */
  readonly limit: number;
  /** Why, for logs and events, e.g. "licence valid: 4 of 6 cameras allowed". */
  readonly reason: string;
}

export interface EnforceOptions {
  /** Cameras allowed without a usable licence; default 0. */
  readonly unlicensedCameras?: number;
}

/** Splits the enabled cameras (ids in config order) into allowed and refused. */
export function enforceCameraLimit(
  status: LicenceStatus,
  cameras: readonly string[],
  opts: EnforceOptions = {},
): CameraLimit {
  const licensed = (status.state === "valid" || status.state === "grace") &&
    status.maxCameras !== null;
  const limit = Math.max(
    0,
    Math.floor(licensed ? status.maxCameras ?? 0 : opts.unlicensedCameras ?? 0),
  );
  const unique = [...new Set(cameras)];
  const allowed = unique.slice(0, limit);
  const refused = unique.slice(limit);
  const what = licensed ? `licence ${status.state}` : `no usable licence (${status.state})`;
  return {
    allowed,
    refused,
    limit,
    reason: `${what}: ${allowed.length} of ${unique.length} cameras allowed` +
      (refused.length > 0 ? `, refused: ${refused.join(", ")}` : ""),
  };
}
