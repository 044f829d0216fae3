import { createHash } from "node:crypto";
import { Cam } from "npm:onvif@0.8.3";
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";
import { parseAuthParams } from "./http_auth.ts";
import {
  createOnvifHandler,
  elementText,
  type OnvifServiceOptions,
  soapAction,
  startOnvifService,
  wsseDigest,
} from "./onvif_service.ts";

const BASE = "http://127.0.0.1:9";
const FAKE_JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]);

function options(withCreds: boolean): OnvifServiceOptions {
  return {
    port: 0,
    name: "cam-x",
    device: {
      manufacturer: "NVR Sim",
      model: "SimCam-1",
      firmwareVersion: "1.0.0",
      serialNumber: "SIM-0007",
      hardwareId: "SimCam-1-HW",
    },
    profiles: [
      {
        token: "main",
        name: "main",
        encoding: "H265",
        width: 1280,
        height: 720,
        fps: 15,
        bitrateKbps: 1000,
        govLength: 15,
        rtspUri: "rtsp://127.0.0.1:8554/main",
      },
      {
        token: "sub",
        name: "sub",
        encoding: "H264",
        width: 640,
        height: 360,
        fps: 15,
        bitrateKbps: 300,
        govLength: 15,
        rtspUri: "rtsp://127.0.0.1:8554/sub",
      },
    ],
    ...(withCreds ? { credentials: { user: "admin", password: "pa&ss" } } : {}),
    snapshot: () => Promise.resolve(FAKE_JPEG),
  };
}

async function usernameToken(
  user: string,
  password: string,
  opts: { nonce?: string; created?: string; type?: string } = {},
): Promise<string> {
  const nonce = opts.nonce ??
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const created = opts.created ?? new Date().toISOString();
  const digest = await wsseDigest(nonce, created, password);
  const type = opts.type ??
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
  return `<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
    `<UsernameToken><Username>${user}</Username><Password Type="${type}">${digest}</Password>` +
    `<Nonce>${nonce}</Nonce><Created>${created}</Created></UsernameToken></Security>`;
}

function soap(body: string, header = ""): string {
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${header}</s:Header>` +
    `<s:Body>${body}</s:Body></s:Envelope>`;
}

function post(xml: string, path = "/onvif/device_service"): Request {
  return new Request(BASE + path, {
    method: "POST",
    body: xml,
    headers: { "content-type": "application/soap+xml" },
  });
}

Deno.test("soapAction and elementText find the action and values whatever the prefixes", () => {
  const xml = soap(
    `<trt:GetStreamUri xmlns:trt="x"><trt:ProfileToken> sub </trt:ProfileToken></trt:GetStreamUri>`,
  );
  assertEquals(soapAction(xml), "GetStreamUri");
  assertEquals(elementText(xml, "ProfileToken"), "sub");
  assertEquals(soapAction("<notsoap/>"), undefined);
});

Deno.test("GetSystemDateAndTime needs no credentials; the rest does", async () => {
  const h = createOnvifHandler(options(true), BASE);
  const r = await h(
    post(soap(`<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>`)),
  );
  assertEquals(r.status, 200);
  const xml = await r.text();
  assertEquals(elementText(xml, "Year"), String(new Date().getUTCFullYear()));

  const denied = await h(post(soap(`<GetDeviceInformation/>`)));
  assertEquals(denied.status, 401, "no WS-Security: HTTP Digest is offered");
  assertMatch(denied.headers.get("www-authenticate") ?? "", /Digest/);
  assertMatch(await denied.text(), /ter:NotAuthorized/);
});

Deno.test("WS-Security PasswordDigest: right, wrong, replayed, stale and PasswordText", async () => {
  const h = createOnvifHandler(options(true), BASE);
  const body = `<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>`;
  const good = await usernameToken("admin", "pa&ss");
  const ok = await h(post(soap(body, good)));
  assertEquals(ok.status, 200);
  const xml = await ok.text();
  assertEquals(elementText(xml, "SerialNumber"), "SIM-0007");
  assertEquals(elementText(xml, "HardwareId"), "SimCam-1-HW");

  const replay = await h(post(soap(body, good)));
  assertEquals(replay.status, 400, "a nonce is accepted once");
  assertMatch(await replay.text(), /already used/);

  const wrong = await h(post(soap(body, await usernameToken("admin", "nope"))));
  assertEquals(wrong.status, 400);
  assertMatch(await wrong.text(), /ter:NotAuthorized/);

  const stale = await h(
    post(soap(body, await usernameToken("admin", "pa&ss", { created: "2001-01-01T00:00:00Z" }))),
  );
  assertEquals(stale.status, 400);
  assertMatch(await stale.text(), /GetSystemDateAndTime/);

  const text = await h(
    post(soap(body, await usernameToken("admin", "pa&ss", { type: "x#PasswordText" }))),
  );
  assertEquals(text.status, 400);
  assertMatch(await text.text(), /PasswordDigest/);
});

Deno.test("unknown action is a SOAP 1.2 Receiver fault; bad profile token a Sender fault", async () => {
  const h = createOnvifHandler(options(false), BASE);
  const r = await h(
    post(soap(`<tds:FlyToTheMoon xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>`)),
  );
  assertEquals(r.status, 500);
  assertEquals(r.headers.get("content-type"), "application/soap+xml; charset=utf-8");
  const xml = await r.text();
  assertMatch(xml, /<soap:Value>soap:Receiver<\/soap:Value>/);
  assertMatch(xml, /ter:ActionNotSupported/);
  assertMatch(xml, /FlyToTheMoon/);

  const bad = await h(
    post(
      soap(`<GetStreamUri><ProfileToken>nope</ProfileToken></GetStreamUri>`),
      "/onvif/media_service",
    ),
  );
  assertEquals(bad.status, 400);
  assertMatch(await bad.text(), /valid tokens: main, sub/);

  const get = await h(new Request(BASE + "/onvif/device_service"));
  assertEquals(get.status, 400);
  await get.body?.cancel();
  const notFound = await h(new Request(BASE + "/index.html"));
  assertEquals(notFound.status, 404);
  await notFound.body?.cancel();
});

Deno.test("GetProfiles / GetStreamUri / GetSnapshotUri / GetCapabilities content", async () => {
  const h = createOnvifHandler(options(false), BASE);
  const profiles = await (await h(post(soap(`<GetProfiles/>`), "/onvif/media_service"))).text();
  assertEquals([...profiles.matchAll(/<trt:Profiles token="(\w+)"/g)].map((m) => m[1]), [
    "main",
    "sub",
  ]);
  assertEquals([...profiles.matchAll(/<tt:Encoding>(\w+)</g)].map((m) => m[1]), ["H265", "H264"]);
  const uri =
    await (await h(post(soap(`<GetStreamUri><ProfileToken>sub</ProfileToken></GetStreamUri>`))))
      .text();
  assertEquals(elementText(uri, "Uri"), "rtsp://127.0.0.1:8554/sub");
  const snap = await (await h(
    post(soap(`<GetSnapshotUri><ProfileToken>main</ProfileToken></GetSnapshotUri>`)),
  ))
    .text();
  assertEquals(elementText(snap, "Uri"), `${BASE}/snapshot.jpg`);
  const caps =
    await (await h(post(soap(`<GetCapabilities><Category>All</Category></GetCapabilities>`))))
      .text();
  assertMatch(caps, /<tt:XAddr>http:\/\/127\.0\.0\.1:9\/onvif\/media_service<\/tt:XAddr>/);
  const nics = await (await h(post(soap(`<GetNetworkInterfaces/>`)))).text();
  assertMatch(elementText(nics, "HwAddress") ?? "", /^02(:[0-9a-f]{2}){5}$/);
});

Deno.test("snapshot: 401 without credentials, 200 with Basic and with Digest", async () => {
  const h = createOnvifHandler(options(true), BASE);
  const url = `${BASE}/snapshot.jpg`;
  const denied = await h(new Request(url));
  assertEquals(denied.status, 401);
  await denied.body?.cancel();
  const challenge = denied.headers.get("www-authenticate") ?? "";
  assertMatch(challenge, /Digest .*Basic/);

  const basic = await h(
    new Request(url, { headers: { authorization: `Basic ${btoa("admin:pa&ss")}` } }),
  );
  assertEquals(basic.status, 200);
  assertEquals(new Uint8Array(await basic.arrayBuffer()), FAKE_JPEG);

  const p = parseAuthParams(challenge.slice("Digest ".length));
  const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
  const realm = p.get("realm") ?? "";
  const nonce = p.get("nonce") ?? "";
  const ha1 = md5(`admin:${realm}:pa&ss`);
  const ha2 = md5("GET:/snapshot.jpg");
  const response = md5(`${ha1}:${nonce}:00000001:abcd:auth:${ha2}`);
  const auth =
    `Digest username="admin", realm="${realm}", nonce="${nonce}", uri="/snapshot.jpg", ` +
    `qop=auth, nc=00000001, cnonce="abcd", response="${response}"`;
  const digest = await h(new Request(url, { headers: { authorization: auth } }));
  assertEquals(digest.status, 200);
  await digest.body?.cancel();
  const forged = await h(
    new Request(url, { headers: { authorization: auth.replace(nonce, `1.${"0".repeat(32)}`) } }),
  );
  assertEquals(forged.status, 401);
  await forged.body?.cancel();
});

Deno.test("npm:onvif Cam works against the service without credentials too", async () => {
  await using svc = startOnvifService(options(false));
  const Ctor = Cam as unknown as new (o: Record<string, unknown>) => {
    connect(cb: (e: Error | null) => void): void;
    getStreamUri(
      o: { profileToken: string },
      cb: (e: Error | null, r: { uri: string }) => void,
    ): void;
    activeSource: { encoding: string; width: number; height: number; profileToken: string };
  };
  const cam = new Ctor({
    hostname: "127.0.0.1",
    port: svc.port,
    autoconnect: false,
    timeout: 5000,
  });
  await new Promise<void>((res, rej) => cam.connect((e) => e ? rej(e) : res()));
  assertEquals(
    [
      cam.activeSource.profileToken,
      cam.activeSource.encoding,
      cam.activeSource.width,
      cam.activeSource.height,
    ],
    ["main", "H265", 1280, 720],
  );
  const uri = await new Promise<string>((res, rej) =>
    cam.getStreamUri({ profileToken: "sub" }, (e, r) => e ? rej(e) : res(r.uri))
  );
  assertEquals(uri, "rtsp://127.0.0.1:8554/sub");
  assert(svc.deviceUrl.endsWith("/onvif/device_service"));
});
