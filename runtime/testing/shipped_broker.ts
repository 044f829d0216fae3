/**
 * A real Mosquitto run with the broker configuration the project ships (firmware/broker/:
 * mosquitto.conf's mutual-TLS listener with the certificate's CN as the user, enrol.conf's
 * bootstrap listener, the acl), paths and ports replaced by the test's own, on 127.0.0.1 only.
 */
import { assert } from "./assert.ts";
import { Mosquitto } from "./mosquitto.ts";
import { freePort } from "../../hw-tests/sim/ports.ts";

const BROKER_DIR = new URL("../../firmware/broker/", import.meta.url);
const ETC = "/etc/mosquitto/nvr/";

/** mosquitto.conf + enrol.conf as shipped, files in the test's folder, ports free ones. */
export async function startShippedBroker(
  bootstrapPassword: string,
  options: { readonly serverAltNames?: readonly string[] } = {},
): Promise<{ broker: Mosquitto; enrolPort: number }> {
  const conf = await Deno.readTextFile(new URL("mosquitto.conf", BROKER_DIR));
  const enrolConf = await Deno.readTextFile(new URL("enrol.conf", BROKER_DIR));
  // Chosen afresh for each try of startWithConfig: when a port turns out taken (another test
  // bound it after it was picked), the retry must not reuse it.
  let enrolPort = 0;
  const broker = await Mosquitto.startWithConfig(({ dir, port, certs }) => {
    do enrolPort = freePort(); while (enrolPort === port);
    const passwords = `${dir}/passwords`;
    const made = new Deno.Command("mosquitto_passwd", {
      args: ["-b", "-c", passwords, "bootstrap", bootstrapPassword],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    assert(made.success, "mosquitto_passwd failed");
    const paths: [string, string][] = [
      [`${ETC}acl`, new URL("acl", BROKER_DIR).pathname],
      [`${ETC}ca.crt`, certs.caFile],
      [`${ETC}broker.crt`, certs.serverCertFile],
      [`${ETC}broker.key`, certs.serverKeyFile],
      [`${ETC}passwords`, passwords],
      ["listener 8883", `listener ${port} 127.0.0.1`],
      ["listener 8884", `listener ${enrolPort} 127.0.0.1`],
    ];
    let text = conf + "\n" + enrolConf;
    for (const [from, to] of paths) {
      assert(text.includes(from), `firmware/broker/ no longer has ${from}`);
      text = text.replaceAll(from, to);
    }
    assert(!text.includes(ETC), "a path under /etc/mosquitto/nvr/ left unreplaced");
    return text;
  }, options);
  return { broker, enrolPort };
}
