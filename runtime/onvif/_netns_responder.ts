/**
 * Run by _netns_two_links.ts inside a camera's network namespace: a WS-Discovery responder on
 * the address given (argv[0]), as a camera on that link answers. Prints "ready", then runs until
 * its stdin closes.
 */
import { startDiscoveryResponder } from "../../hw-tests/sim/ws_discovery_responder.ts";

const hostname = Deno.args[0]!;
const responder = await startDiscoveryResponder({
  hostname,
  deviceUrl: `http://${hostname}/onvif/device_service`,
  endpoint: `urn:uuid:${crypto.randomUUID()}`,
  scopes: [`onvif://www.onvif.org/name/cam-${hostname}`],
});
console.log("ready");
for await (const _ of Deno.stdin.readable) { /* until the test closes stdin */ }
await responder.close();
