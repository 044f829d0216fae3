/** The bundle download against a real HTTP server on 127.0.0.1: resume, limits, hash. */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { serveBundle } from "./bundle_server.ts";
import { BUNDLE_FILE, downloadBundle, DownloadError, type Progress } from "./download.ts";
import { createHash } from "node:crypto";
import { makeTestCertificates } from "../testing/mosquitto.ts";

const SIZE = 300_000;

function bundleBytes(): Uint8Array {
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

const fast = { retryMs: 10, stallMs: 5_000 };

/** The bundle served over HTTPS with a certificate of a test CA, and a download folder. */
async function httpsBundle() {
  const pki = await Deno.makeTempDir({ prefix: "nvr-bundle-pki-" });
  const certs = await makeTestCertificates(pki);
  const body = bundleBytes();
  const server = serveBundle(body, {
    tls: {
      cert: await Deno.readTextFile(certs.serverCertFile),
      key: await Deno.readTextFile(certs.serverKeyFile),
    },
  });
  const dir = await Deno.makeTempDir();
  return {
    certs,
    dir,
    body,
    ref: { url: server.url, size: SIZE, sha256: sha(body) },
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(pki, { recursive: true });
    },
  };
}

Deno.test("download: a connection cut mid-body is resumed with Range; the bundle is byte-identical", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body, { cutAfter: 120_000 });
  const dir = await Deno.makeTempDir();
  const seen: Progress[] = [];
  const path = await downloadBundle(
    { url: server.url, size: SIZE, sha256: sha(body) },
    { dir, ...fast, onProgress: (p) => seen.push(p) },
  );
  assertEquals(path, `${dir}/${BUNDLE_FILE}`);
  assertEquals(sha(await Deno.readFile(path)), sha(body));
  assertEquals(server.ranges, [null, "bytes=120000-"]);
  assertEquals(seen.at(-1), { bytes: SIZE, size: SIZE, percent: 100 });
  assert(seen.length <= 22, `progress throttled to every 5 %: ${seen.length} calls`);
  for (let i = 1; i < seen.length; i++) assert(seen[i]!.bytes > seen[i - 1]!.bytes);
  assertEquals(await exists(`${dir}/bundle.part`), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("download: a restart resumes the part kept on disk", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body, { cutAfter: 100_000 });
  const dir = await Deno.makeTempDir();
  const ref = { url: server.url, size: SIZE, sha256: sha(body) };
  const err = await assertRejects(
    () => downloadBundle(ref, { dir, ...fast, attempts: 1 }),
    DownloadError,
    "truncated",
  );
  assertEquals(err.kind, "network");
  assertEquals((await Deno.stat(`${dir}/bundle.part`)).size, 100_000);
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/bundle.json`));
  assertEquals(meta, { size: SIZE, sha256: sha(body) });
  // The daemon restarted; the same update again:
  const path = await downloadBundle(ref, { dir, ...fast });
  assertEquals(sha(await Deno.readFile(path)), sha(body));
  assertEquals(server.ranges, [null, "bytes=100000-"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("download: a part of another bundle is discarded, not resumed", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body);
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/bundle.part`, new Uint8Array(50_000).fill(9));
  await Deno.writeTextFile(`${dir}/bundle.json`, JSON.stringify({ size: 1, sha256: "00" }));
  const path = await downloadBundle({ url: server.url, size: SIZE, sha256: sha(body) }, {
    dir,
    ...fast,
  });
  assertEquals(sha(await Deno.readFile(path)), sha(body));
  assertEquals(server.ranges, [null]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("download: a server without Range support starts again from byte 0", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body, { ranges: false, cutAfter: 150_000 });
  const dir = await Deno.makeTempDir();
  const path = await downloadBundle({ url: server.url, size: SIZE, sha256: sha(body) }, {
    dir,
    ...fast,
  });
  assertEquals(sha(await Deno.readFile(path)), sha(body));
  assertEquals(server.ranges, [null, "bytes=150000-"]); // asked, got 200 and the whole body
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: update bundle with a wrong SHA-256 — refused and the file removed", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body);
  const dir = await Deno.makeTempDir();
  const err = await assertRejects(
    () => downloadBundle({ url: server.url, size: SIZE, sha256: "0".repeat(64) }, { dir, ...fast }),
    DownloadError,
    `the bundle's SHA-256 is ${sha(body)}, not the announced ${"0".repeat(64)}`,
  );
  assertEquals(err.kind, "hash");
  assertEquals([...Deno.readDirSync(dir)].length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: truncated update bundle — refused after the retries, nothing kept as a bundle", async () => {
  const body = bundleBytes();
  await using server = serveBundle(body, { cutAfter: 1000, cuts: Infinity });
  const dir = await Deno.makeTempDir();
  const err = await assertRejects(
    () =>
      downloadBundle({ url: server.url, size: SIZE, sha256: sha(body) }, {
        dir,
        ...fast,
        attempts: 3,
      }),
    DownloadError,
    "the bundle is truncated",
  );
  assertEquals(err.kind, "network");
  assertEquals(server.ranges.length, 3);
  assertEquals(await exists(`${dir}/${BUNDLE_FILE}`), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("attack: oversized update bundle (more than the announced size) — refused and removed", async () => {
  const body = bundleBytes();
  for (const chunked of [false, true]) {
    await using server = serveBundle(body, { chunked });
    const dir = await Deno.makeTempDir();
    const err = await assertRejects(
      () =>
        downloadBundle({ url: server.url, size: SIZE - 100, sha256: sha(body) }, {
          dir,
          ...fast,
        }),
      DownloadError,
      `${SIZE - 100}`,
    );
    assertEquals(err.kind, "size", `chunked: ${chunked}`);
    assertEquals([...Deno.readDirSync(dir)].length, 0, `chunked: ${chunked}`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack: update bundle from a plain-http or file: URL — refused before any request", async () => {
  const dir = await Deno.makeTempDir();
  for (const url of ["http://example.com/b.raucb", "file:///etc/passwd", "ftp://127.0.0.1/b"]) {
    const err = await assertRejects(
      () => downloadBundle({ url, size: 10, sha256: "0".repeat(64) }, { dir }),
      DownloadError,
    );
    assertEquals(err.kind, "url", url);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("download: a bundle over HTTPS from the fleet's own server, trusted through the fleet CA (caFiles)", async () => {
  await using f = await httpsBundle();
  const { certs, dir, ref } = f;
  const path = await downloadBundle(ref, { dir, ...fast, caFiles: [certs.caFile] });
  assertEquals(sha(await Deno.readFile(path)), sha(f.body));
});

Deno.test("attack: bundle server with a certificate the box does not trust (another CA) — refused, nothing kept", async () => {
  await using f = await httpsBundle();
  const { certs, dir, ref } = f;
  const err = await assertRejects(
    () =>
      downloadBundle(ref, {
        dir,
        ...fast,
        attempts: 1,
        caFiles: [`${certs.dir}/foreign-ca.crt`],
      }),
    DownloadError,
  );
  assertEquals(err.kind, "network");
  assertEquals(await exists(`${dir}/${BUNDLE_FILE}`), false);
});
