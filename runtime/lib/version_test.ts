import { assertEquals } from "../testing/assert.ts";
import { softwareVersion } from "./version.ts";

Deno.test("softwareVersion: the image's build-info.json (version, commit, board, buildDate)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "build-info-" });
  try {
    const path = `${dir}/build-info.json`;
    const info = {
      version: "0.1.0",
      commit: "0123456789abcdef0123456789abcdef01234567",
      board: "generic-arm64",
      buildDate: "2026-12-07T01:02:03Z",
    };
    await Deno.writeTextFile(path, JSON.stringify(info));
    const v = await softwareVersion({ buildInfoPath: path, git: null });
    assertEquals([v.commit, v.builtAt], [info.commit, info.buildDate]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
