/**
 * The one way a URL with credentials is shown outside its owner: in logs, errors, the API and the
 * fleet. The user name stays (it says which account); the password becomes the marker.
 */

/** The marker that stands for a secret wherever configuration or URLs are shown. */
export const REDACTED = "***redacted***";

/**
 * `url` with its password replaced by REDACTED; a URL without one as it is. A string that does not
 * parse loses anything between "//" and "@", so a malformed URL cannot leak its credentials.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = REDACTED;
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}
