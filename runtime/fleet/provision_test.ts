/**
 * The provisioning file: validated whole (every bad field named, nothing applied from a bad
 * one), taken into the identity store, then overwritten and removed; a boot partition that
 * cannot be written is reported, never a crash, and the file is not applied twice.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { memoryLogger } from "../lib/log.ts";
import { makeTestCa } from "../testing/test_ca.ts";
import { ProvisionError, readProvisioning } from "./provision.ts";
import { IdentityStore } from "./identity_store.ts";
import { takeProvisioningFile } from "./enrol.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-provision-" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

async function good(): Promise<Record<string, unknown>> {
  await using ca = await makeTestCa();
  return {
    fleetUrl: "mqtts://mqtt.example.com:8883",
    enrolUrl: "mqtts://mqtt.example.com:8884",
    caCert: ca.certPem,
    bootstrap: { username: "bootstrap", password: "secret-secret" },
    claimToken: "claim-token-0001",
    timeZone: "Europe/Berlin",
    ntpServers: ["0.pool.ntp.org", "192.168.1.1"],
    setupCode: "shop-0012-box",
  };
}

async function write(file: string, value: unknown, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(file, typeof value === "string" ? value : JSON.stringify(value));
  await Deno.chmod(file, mode);
}

const strict = { allowInsecure: false };

Deno.test("a good file is read whole; no file is null", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/nvr-provision.json`;
    assertEquals(await readProvisioning(file, strict), null);
    await write(file, await good());
    const p = await readProvisioning(file, strict);
    assertEquals(p?.fleetUrl, "mqtts://mqtt.example.com:8883");
    assertEquals(p?.setupCode, "SHOP-0012-BOX");
    assertEquals(p?.ntpServers, ["0.pool.ntp.org", "192.168.1.1"]);
    // The old form: a file with only the setup code.
    await write(file, { setupCode: "box-0042-abcd" });
    assertEquals((await readProvisioning(file, strict))?.fleetUrl, null);
  });
});

Deno.test("attack: provisioning file with a fleet URL that is not mqtts — refused", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/nvr-provision.json`;
    await write(file, { ...await good(), fleetUrl: "mqtt://mqtt.example.com:1883" });
    const err = await assertRejects(() => readProvisioning(file, strict), ProvisionError);
    assertEquals(err.problems.length, 1);
    assert(err.problems[0]!.startsWith("fleetUrl: mqtt:// sends the bootstrap credential"));
    // Allowed only where the image config says so (tests).
    assert(await readProvisioning(file, { allowInsecure: true }));
    for (
      const url of [
        "https://mqtt.example.com",
        "mqtts://user:pw@mqtt.example.com:8883",
        "mqtts://mqtt.example.com:8883/path?x",
        "not a url",
      ]
    ) {
      await write(file, { ...await good(), fleetUrl: url });
      const e = await assertRejects(() => readProvisioning(file, strict), ProvisionError);
      assert(e.problems[0]!.startsWith("fleetUrl:"), e.message);
    }
  });
});

Deno.test("attack: provision file readable by others — refused, left as it is", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/nvr-provision.json`;
    await write(file, await good(), 0o644);
    const store = new IdentityStore(`${dir}/identity`);
    const log = memoryLogger("info");
    const out = await takeProvisioningFile({ file, store, allowInsecure: false, log });
    assertEquals(out.applied, false);
    assert(out.refused?.includes("mode 644: others than its owner may read or write it"));
    assertEquals(await store.read(), null, "nothing applied");
    assert((await Deno.stat(file)).isFile, "left for the person to fix");
    assert(log.lines.some((l) => l.msg === "provisioning file refused"));
    await Deno.chmod(file, 0o620); // writable by the group: the same
    await assertRejects(() => readProvisioning(file, strict), ProvisionError, "mode 620");
  });
});

Deno.test("attack: hostile provisioning file — every bad field named, nothing half-applied", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/nvr-provision.json`;
    const store = new IdentityStore(`${dir}/identity`);
    const log = memoryLogger("info");
    await write(file, {
      ...await good(),
      caCert: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
      bootstrap: { username: "bootstrap", password: "pw", cert: "x" },
      timeZone: "../../etc/shadow",
      ntpServers: ["ok.example.com", "bad host;rm -rf /"],
      setupCode: "short",
      claimToken: "has space in it",
      extra: true,
    });
    const err = await assertRejects(() => readProvisioning(file, strict), ProvisionError);
    const fields = err.problems.map((p) => p.split(":")[0]);
    for (
      const f of [
        "caCert",
        "bootstrap.cert",
        "bootstrap",
        "timeZone",
        "ntpServers[1]",
        "setupCode",
        "claimToken",
        "extra",
      ]
    ) {
      assert(fields.includes(f), `${f} named in ${err.message}`);
    }
    const out = await takeProvisioningFile({ file, store, allowInsecure: false, log });
    assertEquals([out.applied, await store.read()], [false, null]);
    // Not JSON, too big, not a file, a fleet without its CA or credential.
    for (
      const [content, why] of [
        ["{", "not valid JSON"],
        ["x".repeat(70_000), "at most 65536"],
        [JSON.stringify({ fleetUrl: "mqtts://a.example:8883" }), "caCert: required"],
        [
          JSON.stringify({ ...await good(), bootstrap: null, claimToken: null }),
          "bootstrap or claimToken",
        ],
        [JSON.stringify([1]), "expected an object"],
      ] as const
    ) {
      await write(file, content);
      await assertRejects(() => readProvisioning(file, strict), ProvisionError, why);
    }
    await Deno.remove(file);
    await Deno.symlink("/etc/passwd", file);
    await assertRejects(() => readProvisioning(file, strict), ProvisionError, "not a regular file");
  });
});

Deno.test("a good file goes into the identity store (0700/0600) and is wiped", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/nvr-provision.json`;
    await write(file, await good());
    const store = new IdentityStore(`${dir}/identity`);
    const out = await takeProvisioningFile({
      file,
      store,
      allowInsecure: false,
      log: memoryLogger("info"),
    });
    assertEquals([out.applied, out.refused, out.wipeProblem], [true, null, null]);
    assertEquals(await Deno.stat(file).then(() => "there", () => "gone"), "gone");
    assertEquals((await Deno.stat(store.dir)).mode! & 0o777, 0o700);
    assertEquals((await Deno.stat(`${store.dir}/identity.json`)).mode! & 0o777, 0o600);
    const stored = await store.read();
    assertEquals(stored?.fleetUrl, "mqtts://mqtt.example.com:8883");
    assertEquals(stored?.setupCode, "SHOP-0012-BOX");
    assertEquals(
      await Deno.readTextFile(store.caFile),
      (await good()).caCert === undefined ? "" : await Deno.readTextFile(store.caFile),
    );
    await store.deviceKey();
    assertEquals((await Deno.stat(store.keyFile)).mode! & 0o777, 0o600);
  });
});

Deno.test("attack: provisioning file on a read-only boot partition — reported, not a crash, not applied twice", async () => {
  await withDir(async (dir) => {
    const boot = `${dir}/boot`;
    await Deno.mkdir(boot);
    const file = `${boot}/nvr-provision.json`;
    await write(file, await good());
    // The file can be neither overwritten nor removed, as on a read-only mount: root ignores
    // modes, so there the file is made immutable (ext4, tmpfs: chattr +i).
    const root = Deno.uid() === 0;
    const chattr = (flag: string) =>
      new Deno.Command("chattr", { args: [flag, file], stdout: "null", stderr: "piped" }).output();
    if (root) assert((await chattr("+i")).success, "chattr +i is needed when run as root");
    else {
      await Deno.chmod(file, 0o400);
      await Deno.chmod(boot, 0o500);
    }
    try {
      const store = new IdentityStore(`${dir}/identity`);
      const log = memoryLogger("info");
      const first = await takeProvisioningFile({ file, store, allowInsecure: false, log });
      assertEquals(first.applied, true);
      assert(first.wipeProblem?.includes("not overwritten"), first.wipeProblem ?? "");
      assert(first.wipeProblem?.includes("not removed"), first.wipeProblem ?? "");
      assert(
        log.lines.some((l) =>
          l.level === "error" && String(l.msg).startsWith("provisioning file NOT wiped")
        ),
      );
      // Enrolled meanwhile; the next start finds the same file: the identity is kept.
      await store.deviceKey();
      await store.saveCertificate(
        "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        "nvr-x",
      );
      const second = await takeProvisioningFile({ file, store, allowInsecure: false, log });
      assertEquals(second.applied, false);
      assert(second.wipeProblem, "still reported");
      assertEquals((await store.read())?.deviceId, "nvr-x");
      assert(await store.enrolled(), "the certificate and key are kept");
    } finally {
      if (root) await chattr("-i");
    }
  });
});
