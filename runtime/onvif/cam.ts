/**
 * One way to build an npm:onvif `Cam` for a device-service URL (http or https, IPv6 hosts,
 * optional WS-Security credentials, no auto-connect), typed by the caller with the few callback
 * methods it uses (npm:onvif ships no types).
 */
import { Cam } from "npm:onvif@0.8.3";

export interface OnvifCamOptions {
  readonly username?: string | null;
  readonly password?: string | null;
  readonly timeoutMs?: number;
}

const CamCtor = Cam as unknown as new (opts: Record<string, unknown>) => unknown;

export function onvifCam<T>(url: URL, opts: OnvifCamOptions = {}): T {
  const secure = url.protocol === "https:";
  const cam = new CamCtor({
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    path: url.pathname || "/onvif/device_service",
    useSecure: secure,
    autoconnect: false,
    timeout: opts.timeoutMs ?? 3000,
    ...(opts.username ? { username: opts.username, password: opts.password ?? "" } : {}),
  }) as { uri?: Record<string, unknown> };
  // Without connect() the library posts "device" actions to the path "device": point them at the
  // device service (connect() replaces this with what GetCapabilities says).
  cam.uri = { ...cam.uri, device: { path: url.pathname || "/onvif/device_service" } };
  return cam as T;
}
