import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import { createHttpAuth, parseAuthParams } from "./http_auth.ts";

Deno.test("parseAuthParams handles quoted commas, escapes and bare tokens", () => {
  const p = parseAuthParams('realm="a, b", qop=auth, nonce="x\\"y", NC=00000001');
  assertEquals([p.get("realm"), p.get("qop"), p.get("nonce"), p.get("nc")], [
    "a, b",
    "auth",
    'x"y',
    "00000001",
  ]);
});

Deno.test("HTTP auth: Basic right/wrong, unknown scheme, and Basic-only challenges", () => {
  const auth = createHttpAuth({ user: "u", password: "p:1" }, { realm: "R", digest: false });
  const req = (h?: string): Request =>
    new Request("http://x/snapshot.jpg", h === undefined ? {} : { headers: { authorization: h } });
  assert(auth.check(req(`Basic ${btoa("u:p:1")}`)));
  assert(!auth.check(req(`Basic ${btoa("u:p:2")}`)));
  assert(!auth.check(req("Basic !!notbase64")));
  assert(!auth.check(req("Bearer abc")));
  assert(!auth.check(req()));
  assertEquals(auth.challenges(), ['Basic realm="R"']);
  const r = auth.unauthorized();
  assertEquals(r.status, 401);
  assertEquals(r.headers.get("www-authenticate"), 'Basic realm="R"');
});
