/**
 * Which GStreamer elements exist. The planner asks an ElementRegistry, never GStreamer itself, so
 * tests can hand it a board's element list (testdata/<board>/registry.txt) while the daemon hands
 * it the live registry probed at start-up. Presence only: see encoder_smoke.ts for "does it work".
 */
import { hasElementFactory } from "../gst/mod.ts";
import type { BoardProfile } from "./profile.ts";

export interface ElementRegistry {
  has(name: string): boolean;
}

/** A fixed list of element names. */
export class ListRegistry implements ElementRegistry {
  readonly #names: ReadonlySet<string>;
  constructor(names: Iterable<string>) {
    this.#names = new Set(names);
  }
  has(name: string): boolean {
    return this.#names.has(name);
  }
  /** The names, sorted. */
  names(): string[] {
    return [...this.#names].sort();
  }
}

/**
 * The live GStreamer registry. The names given are probed at once (start-up, so a missing plugin
 * shows in the first log lines); any other name is probed on first ask and remembered.
 */
export class GstRegistry implements ElementRegistry {
  readonly #known = new Map<string, boolean>();
  constructor(probeNow: Iterable<string> = []) {
    for (const name of probeNow) this.has(name);
  }
  has(name: string): boolean {
    let present = this.#known.get(name);
    if (present === undefined) {
      present = hasElementFactory(name);
      this.#known.set(name, present);
    }
    return present;
  }
  /** What was probed so far: name → present. */
  probed(): ReadonlyMap<string, boolean> {
    return this.#known;
  }
}

/** The live registry, with every element the profile names probed now. */
export function probeRegistry(profile: BoardProfile): GstRegistry {
  return new GstRegistry([
    ...profileElements(profile),
    "h264parse",
    "h265parse",
    "h264timestamper",
    "h265timestamper",
    "v4l2src",
  ]);
}

/** Element names in a `gst-launch` list: one a line; blank lines and `#` comments skipped. */
export function parseRegistryList(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "");
}

/** A ListRegistry from one or more list files (a board's list plus the common software one). */
export async function loadRegistryFiles(...paths: string[]): Promise<ListRegistry> {
  const names: string[] = [];
  for (const path of paths) names.push(...parseRegistryList(await Deno.readTextFile(path)));
  return new ListRegistry(names);
}

/** Element factory names in a launch fragment: "a x=1 ! video/x-raw ! b" → ["a", "b"]. */
export function fragmentElements(fragment: string): string[] {
  return fragment.split("!").map((part) => part.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name !== "" && !name.includes("/"));
}

/** Every element a profile may put in a pipeline, including convert/before/download fragments. */
export function profileElements(profile: BoardProfile): string[] {
  const names = new Set<string>();
  for (const spec of [...profile.encoders.h265, ...profile.encoders.h264]) {
    for (const n of [spec.element, ...fragmentElements(spec.convert)]) names.add(n);
  }
  for (const spec of Object.values(profile.decoders).flat()) {
    const parts = [spec.element, spec.before, spec.download].flatMap(fragmentElements);
    for (const n of parts) names.add(n);
  }
  return [...names].sort();
}
