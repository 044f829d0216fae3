/** gst-launch syntax helpers. */

/** A property value in double quotes, with `"` and `\` escaped, safe for any string. */
export function quote(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
