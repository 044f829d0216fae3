/**
 * Copies hls.js (the npm package pinned in deno.lock) into the page's folder as
 * `page/vendor/hls.js`, so the box serves it like its own files and never fetches code at run
 * time. Run at build time (`make run`, `make test`, the image build):
 *
 *   deno run -A runtime/web/vendor_hls.ts
 *
 * The light ESM build (no subtitles, alternate audio or DRM, none of which recordings have) is
 * 374 kB. The copy is git-ignored; without it the page plays recordings only where the browser
 * has HLS itself (Safari) and says so elsewhere.
 */
// Pins the version and brings the package into Deno's npm cache (checked against deno.lock).
import pkg from "npm:hls.js@1.7.4/package.json" with { type: "json" };

export const HLS_VERSION: string = pkg.version;
const BUILD = "dist/hls.light.min.mjs";

/** Where the vendored copy goes. */
export const VENDORED = new URL("./page/vendor/hls.js", import.meta.url);

/** Copies the build unless an identical copy is there; returns its path. */
export async function vendorHls(): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  if (!info.success) throw new Error("`deno info --json` failed; cannot find Deno's npm cache");
  const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache?: string };
  const source = `${npmCache}/registry.npmjs.org/hls.js/${HLS_VERSION}/${BUILD}`;
  let body: string;
  try {
    body = await Deno.readTextFile(source);
  } catch (err) {
    throw new Error(
      `hls.js ${HLS_VERSION} is not in Deno's npm cache at ${source} ` +
        `(${(err as Error).message}); run this script with network access to the npm registry once`,
    );
  }
  const header = `// hls.js ${HLS_VERSION} (Apache-2.0), ${BUILD} of the npm package; ` +
    "copied by runtime/web/vendor_hls.ts, do not edit.\n";
  // The source map is not shipped, so its comment goes too.
  const text = header + body.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
  const current = await Deno.readTextFile(VENDORED).catch(() => "");
  if (current !== text) {
    await Deno.mkdir(new URL("./", VENDORED), { recursive: true });
    await Deno.writeTextFile(VENDORED, text);
  }
  return VENDORED.pathname;
}

if (import.meta.main) {
  console.log(`hls.js ${HLS_VERSION} → ${await vendorHls()}`);
}
