/**
 * "SSD missing or not mounted → nothing is written to the root filesystem." With
 * storage.requireMount set, the data folder must be on that mount: it is listed in
 * <procRoot>/self/mountinfo, it is the mount that holds the data folder (no other mount in
 * between), and the data folder has the same st_dev as the mount point.
 */
import { StorageUnavailableError } from "./data_dir.ts";

export interface MountEntry {
  readonly mountPoint: string;
  /** "major:minor" as mountinfo gives it. */
  readonly device: string;
  readonly fsType: string;
  readonly source: string;
}

export type MountStatus =
  | { readonly state: "not-required"; readonly ok: true }
  | { readonly state: "mounted"; readonly ok: true; readonly mount: MountEntry }
  | {
    readonly state: "not-mounted" | "outside-mount" | "other-device" | "unknown";
    readonly ok: false;
    /** What is wrong, as a phrase for logs and errors. */
    readonly why: string;
    /** The mount that holds the data folder, when known. */
    readonly holder: MountEntry | null;
  };

/** Undoes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)); lines that do not parse are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const sep = fields.indexOf("-", 6);
    const [device, mountPoint] = [fields[2], fields[4]];
    const [fsType, source] = [fields[sep + 1], fields[sep + 2]];
    if (sep < 0 || !device || !mountPoint || !fsType) continue;
    entries.push({
      mountPoint: unescape(mountPoint),
      device,
      fsType,
      source: unescape(source ?? ""),
    });
  }
  return entries;
}

function normalise(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

function isWithin(path: string, mountPoint: string): boolean {
  return mountPoint === "/" || path === mountPoint || path.startsWith(mountPoint + "/");
}

/** The real path of the nearest existing ancestor (or the folder itself), and what is below it. */
function nearestExisting(path: string): { existing: string; resolved: string } {
  let existing = normalise(path.startsWith("/") ? path : `${Deno.cwd()}/${path}`);
  let rest = "";
  for (;;) {
    try {
      const real = Deno.realPathSync(existing);
      return { existing: real, resolved: normalise(real + rest) };
    } catch {
      if (existing === "/") throw new Error(`no part of '${path}' exists`);
      const cut = existing.lastIndexOf("/");
      rest = existing.slice(cut) + rest;
      existing = cut <= 0 ? "/" : existing.slice(0, cut);
    }
  }
}

/** The mount holding `path`: the longest mount point containing it, the latest one on top. */
function holderOf(path: string, mounts: readonly MountEntry[]): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    if (isWithin(path, m.mountPoint) && m.mountPoint.length >= (best?.mountPoint.length ?? 0)) {
      best = m;
    }
  }
  return best;
}

const describe = (m: MountEntry) => `'${m.mountPoint}' (${m.fsType} ${m.source})`;

/** Whether `dataDir` is on the mount `requireMount` (null: no mount required). No writes. */
export function checkMount(
  dataDir: string,
  requireMount: string | null,
  procRoot = "/proc",
): MountStatus {
  if (requireMount === null) return { state: "not-required", ok: true };
  const expected = normalise(requireMount);
  const fail = (
    state: "not-mounted" | "outside-mount" | "other-device" | "unknown",
    why: string,
    holder: MountEntry | null = null,
  ): MountStatus => ({ state, ok: false, why, holder });

  let mounts: MountEntry[];
  try {
    mounts = parseMountinfo(Deno.readTextFileSync(`${procRoot}/self/mountinfo`));
  } catch (err) {
    return fail("unknown", `the mount table ${procRoot}/self/mountinfo cannot be read (${err})`);
  }
  const mount = mounts.findLast((m) => m.mountPoint === expected);
  if (!mount) {
    return fail(
      "not-mounted",
      `nothing is mounted at '${expected}' (storage.requireMount): the recording disk is ` +
        "missing or not mounted, and nothing is written to the root filesystem instead",
    );
  }
  let place: { existing: string; resolved: string };
  try {
    place = nearestExisting(dataDir);
  } catch (err) {
    return fail("unknown", `its location cannot be resolved (${err})`);
  }
  const holder = holderOf(place.resolved, mounts);
  if (holder?.mountPoint !== expected) {
    return fail(
      "outside-mount",
      `it is on ${holder ? describe(holder) : "an unknown filesystem"}, not on the required ` +
        `mount '${expected}' (storage.requireMount); put storage.dataDir inside '${expected}'`,
      holder,
    );
  }
  try {
    if (Deno.statSync(place.existing).dev !== Deno.statSync(expected).dev) {
      return fail(
        "other-device",
        `'${place.existing}' is on another device than the mount ${describe(mount)}`,
        holder,
      );
    }
  } catch (err) {
    return fail("unknown", `'${expected}' or '${place.existing}' cannot be examined (${err})`);
  }
  return { state: "mounted", ok: true, mount };
}

/** checkMount, throwing StorageUnavailableError (naming the folder and the mount) when not ok. */
export function requireMounted(
  dataDir: string,
  requireMount: string | null,
  procRoot = "/proc",
): void {
  const status = checkMount(dataDir, requireMount, procRoot);
  if (!status.ok) throw new StorageUnavailableError(dataDir, status.why);
}
