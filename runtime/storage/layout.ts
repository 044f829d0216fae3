/**
 * Where files live under the data folder. Pure path arithmetic, no I/O:
 *
 *   <dataDir>/index.sqlite
 *   <dataDir>/recordings/<camera>/.incoming/<run>-00001.mp4      being written
 *   <dataDir>/recordings/<camera>/2026-11-25/14/<camera>-20261125T140312Z.mp4   finished
 *   <dataDir>/recordings/<camera>/unsynced/<boot>/<camera>-m000012345.mp4    finished before
 *                                      the clock was synced (boot id, ms since boot: no date)
 *
 * Dates and hours are UTC so that paths never repeat or jump at daylight-saving changes.
 */

export function indexPath(dataDir: string): string {
  return `${dataDir}/index.sqlite`;
}

export function cameraDir(dataDir: string, camera: string): string {
  return `${dataDir}/recordings/${camera}`;
}

export function incomingDir(dataDir: string, camera: string): string {
  return `${cameraDir(dataDir, camera)}/.incoming`;
}

/** splitmuxsink `location` pattern for one pipeline run (its %05d is the file's number). */
export function incomingPattern(dataDir: string, camera: string, runId: string): string {
  return `${incomingDir(dataDir, camera)}/${runId}-%05d.mp4`;
}

/** The `n`th file of a recording run in `.incoming/`: the name incomingPattern gives it. */
export function incomingFile(dataDir: string, camera: string, runId: string, n: number): string {
  return incomingPattern(dataDir, camera, runId).replace("%05d", String(n).padStart(5, "0"));
}

/** A recording run's id: files of the running run are told apart from left-overs by it. */
export function newRunId(nowMs: number): string {
  return `${nowMs.toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * The cached thumbnail of a segment (playback/thumbnails.ts): a small JPEG of its first keyframe,
 * made when first asked for, deleted by retention with its segment.
 */
export function thumbnailPath(dataDir: string, camera: string, segmentId: number): string {
  return `${thumbnailDir(dataDir)}/${camera}/${segmentId}.jpg`;
}

export function thumbnailDir(dataDir: string): string {
  return `${dataDir}/thumbs`;
}

/** Final path of a finished segment, relative to the data folder. */
export function segmentRelativePath(camera: string, startMs: number): string {
  const iso = new Date(startMs).toISOString(); // 2026-11-25T14:03:12.345Z
  const day = iso.slice(0, 10);
  const hour = iso.slice(11, 13);
  const stamp = iso.slice(0, 19).replaceAll("-", "").replaceAll(":", "") +
    iso.slice(19, 23).replace(".", "") + "Z";
  return `recordings/${camera}/${day}/${hour}/${camera}-${stamp}.mp4`;
}

/**
 * Final path of a segment recorded before the clock was synced: named by the boot and the
 * milliseconds since boot, never by a date it does not know. Kept when the segment is re-stamped.
 */
export function unsyncedRelativePath(camera: string, bootId: string, monoStartMs: number): string {
  const boot = bootId.replace(/[^0-9a-zA-Z]/g, "").slice(0, 12) || "unknown";
  const mono = String(Math.max(0, Math.round(monoStartMs))).padStart(10, "0");
  return `recordings/${camera}/unsynced/${boot}/${camera}-m${mono}.mp4`;
}
