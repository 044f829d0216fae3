/**
 * Test helper: a real HTTP server on 127.0.0.1 serving one bundle, with Range support that can
 * be switched off, and a way to cut the connection after some bytes of a body.
 */

export interface BundleServerOptions {
  /** Answer Range requests with 206 (default true); false: always 200 with the whole body. */
  readonly ranges?: boolean;
  /** Cut the connection after this many body bytes for the first `cuts` responses. */
  readonly cutAfter?: number;
  /** How many responses are cut (default 1; Infinity: all). */
  readonly cuts?: number;
  /** Declare no Content-Length (chunked), so only the body shows the size. */
  readonly chunked?: boolean;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface BundleServer extends AsyncDisposable {
  readonly url: string;
  /** The Range header of each request (null when absent). */
  readonly ranges: (string | null)[];
  close(): Promise<void>;
}

export function serveBundle(body: Uint8Array, options: BundleServerOptions = {}): BundleServer {
  const ranges: (string | null)[] = [];
  let cutsLeft = options.cuts ?? 1;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: () => new Response(null, { status: 500 }),
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }, (req) => {
    const range = req.headers.get("range");
    ranges.push(range);
    let start = 0;
    let status = 200;
    const headers = new Headers({ "content-type": "application/octet-stream" });
    if (options.ranges !== false) headers.set("accept-ranges", "bytes");
    const m = /^bytes=(\d+)-$/.exec(range ?? "");
    if (m && options.ranges !== false) {
      start = Number(m[1]);
      if (start >= body.byteLength) {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${body.byteLength}` },
        });
      }
      status = 206;
      headers.set("content-range", `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`);
    }
    const slice = body.subarray(start);
    const cut = options.cutAfter !== undefined && cutsLeft > 0;
    if (cut) cutsLeft--;
    if (!cut && !options.chunked) {
      headers.set("content-length", String(slice.byteLength));
      return new Response(slice as Uint8Array<ArrayBuffer>, { status, headers });
    }
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (!cut) {
          controller.enqueue(slice);
          controller.close();
          return;
        }
        controller.enqueue(slice.subarray(0, options.cutAfter));
        // An error in the body aborts the response: the client sees the connection drop.
        setTimeout(() => controller.error(new Error("cut by the test")), 20);
      },
    });
    return new Response(stream, { status, headers });
  });
  const close = async () => {
    await server.shutdown();
  };
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${server.addr.port}/nvr.raucb`,
    ranges,
    close,
    [Symbol.asyncDispose]: close,
  };
}
