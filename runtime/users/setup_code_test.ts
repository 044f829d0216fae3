import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { SETUP_CODE_FILE, SetupCode } from "./setup_code.ts";

Deno.test("the setup code is kept 0600 until used, or the provisioned one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-setup-code-" });
  try {
    const first = await SetupCode.prepare(dir);
    assertEquals((await Deno.stat(`${dir}/${SETUP_CODE_FILE}`)).mode! & 0o777, 0o600);
    assertEquals((await SetupCode.prepare(dir)).code, first.code, "kept across restarts");
    assert(first.matches(` ${first.code.toLowerCase()} `), "case and spaces do not matter");
    assert(!first.matches("WRONGCODE2"));
    await first.consume();
    assert(!first.matches(first.code), "used up");

    // The provisioning file's setupCode (validated by fleet/provision.ts, kept in the identity
    // store): runtime/fleet/provision_test.ts reads it from the file.
    const provisioned = await SetupCode.prepare(dir, "box-0042-abcd");
    assertEquals(provisioned.code, "BOX-0042-ABCD");
    await provisioned.consume();

    await assertRejects(() => SetupCode.prepare(dir, "short"), RangeError, "setupCode");
    const none = await SetupCode.prepare(dir, null);
    assertEquals(none.code.length, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
