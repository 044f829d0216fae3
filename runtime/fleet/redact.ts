/**
 * Secrets never leave the box over the fleet link: `get-config` and `config/reported` carry the
 * configuration with passwords and URL credentials replaced by a marker, and an apply-config that
 * still holds the marker is refused (it would set the password to the marker).
 */
import type { NvrConfig } from "../config/types.ts";
import { REDACTED, redactedKeys } from "../config/redacted.ts";
import { redactUrl } from "../lib/redact_url.ts";
import type { Json } from "./schema.ts";

export { REDACTED, redactedKeys };

/** The configuration as JSON with secrets replaced by REDACTED. */
export function redactConfig(config: NvrConfig): Json {
  const json = JSON.parse(JSON.stringify(config)) as Record<string, Json>;
  const mqtt = json.mqtt as Record<string, Json>;
  if (mqtt.password !== null) mqtt.password = REDACTED;
  if (typeof mqtt.url === "string") mqtt.url = redactUrl(mqtt.url);
  for (const camera of json.cameras as Record<string, Json>[]) {
    if (camera.password !== null) camera.password = REDACTED;
    if (typeof camera.url === "string") camera.url = redactUrl(camera.url);
    if (typeof camera.subUrl === "string") camera.subUrl = redactUrl(camera.subUrl);
    const onvif = camera.onvif as Record<string, Json> | undefined;
    if (onvif && onvif.password !== null) onvif.password = REDACTED;
    if (onvif && typeof onvif.url === "string") onvif.url = redactUrl(onvif.url);
  }
  return json;
}
