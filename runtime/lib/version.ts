/**
 * The software version the box reports (health, the MQTT birth message, the API).
 *
 * The commit comes from, in order: the image's build info file beside `runtime/`
 * (`/usr/lib/nvr/build-info.json`: `{"version", "commit", "board", "buildDate"}`, written by
 * firmware/build_image.sh, which copies runtime/ without .git), then `git rev-parse HEAD` when
 * running from a git checkout (development), else null.
 */

/** Bumped with every release. */
export const VERSION = "0.1.0";

export interface SoftwareVersion {
  /** Release version, e.g. "0.1.0". */
  readonly version: string;
  /** Full git commit hash, or null when unknown. */
  readonly commit: string | null;
  /** Where the commit came from: "build_info.json", "git", or "none". */
  readonly commitSource: "build_info.json" | "git" | "none";
  /** ISO time of the build, from build_info.json; null otherwise. */
  readonly builtAt: string | null;
  /** Deno version running the daemon. */
  readonly deno: string;
}

export interface VersionSources {
  /** Default: build-info.json in the folder above runtime/ (the image's /usr/lib/nvr/). */
  readonly buildInfoPath?: string;
  /** Runs git in the repository and gives its stdout, or null; default the real git. */
  readonly git?: ((args: readonly string[]) => Promise<string | null>) | null;
}

const COMMIT = /^[0-9a-f]{7,64}$/;

async function systemGit(args: readonly string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: [...args],
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null; // no git, or not allowed to run it
  }
}

async function readBuildInfo(
  path: string,
): Promise<{ commit: string; builtAt: string | null } | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  try {
    const info = JSON.parse(text) as { commit?: unknown; builtAt?: unknown; buildDate?: unknown };
    if (typeof info.commit !== "string" || !COMMIT.test(info.commit)) return null;
    const built = info.buildDate ?? info.builtAt; // the image writes buildDate
    return { commit: info.commit, builtAt: typeof built === "string" ? built : null };
  } catch {
    return null;
  }
}

/** The version, the commit and where it came from. Never throws. */
export async function softwareVersion(sources: VersionSources = {}): Promise<SoftwareVersion> {
  const deno = Deno.version.deno;
  // /usr/lib/nvr/build-info.json on the box: runtime/ sits in /usr/lib/nvr, this file in runtime/lib/.
  const path = sources.buildInfoPath ?? new URL("../../build-info.json", import.meta.url).pathname;
  const built = await readBuildInfo(path);
  if (built !== null) {
    return {
      version: VERSION,
      commit: built.commit,
      commitSource: "build_info.json",
      builtAt: built.builtAt,
      deno,
    };
  }
  const git = sources.git === undefined ? systemGit : sources.git;
  const head = git === null ? null : await git(["rev-parse", "HEAD"]);
  if (head !== null && COMMIT.test(head)) {
    return { version: VERSION, commit: head, commitSource: "git", builtAt: null, deno };
  }
  return { version: VERSION, commit: null, commitSource: "none", builtAt: null, deno };
}
