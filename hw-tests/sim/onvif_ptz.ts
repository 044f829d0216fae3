/**
 * The virtual camera's ONVIF PTZ service (ver20): GetNodes, GetNode, GetConfigurations,
 * GetConfiguration, ContinuousMove, Stop, GetStatus, GetPresets, SetPreset, GotoPreset,
 * RemovePreset, on a PtzState. Enough for the `onvif` npm client and for the NVR. Velocities and
 * positions in the generic spaces only; anything out of range or unknown is a SOAP fault that says
 * what was wrong, as a careful camera would answer (a hostile NVR is not this file's concern, but a
 * wrong request must not move the head).
 */
import {
  elementAttrs,
  elementText,
  type OnvifPtzExtension,
  soapFault,
  soapResponse,
  tag,
  xmlEscape,
} from "./onvif_service.ts";
import { MAX_PRESETS, type PtzState, type PtzVector } from "./ptz_state.ts";

const NODE = "PtzNode_1";
const CONFIG = "PtzConfig_1";
const SPACE = "http://www.onvif.org/ver10/tptz";
const PT_VELOCITY = `${SPACE}/PanTiltSpaces/VelocityGenericSpace`;
const ZOOM_VELOCITY = `${SPACE}/ZoomSpaces/VelocityGenericSpace`;
const PT_POSITION = `${SPACE}/PanTiltSpaces/PositionGenericSpace`;
const ZOOM_POSITION = `${SPACE}/ZoomSpaces/PositionGenericSpace`;
/** Longest ContinuousMove Timeout accepted. */
const MAX_TIMEOUT_S = 120;

const range = (name: string, min: number, max: number) =>
  `<tt:${name}>${tag("tt:Min", min)}${tag("tt:Max", max)}</tt:${name}>`;

const space = (name: string, uri: string, min: number, withY: boolean) =>
  `<tt:${name}>${tag("tt:URI", uri)}${range("XRange", min, 1)}${
    withY ? range("YRange", -1, 1) : ""
  }</tt:${name}>`;

function nodeXml(): string {
  return `<tptz:PTZNode token="${NODE}" FixedHomePosition="false">${tag("tt:Name", "PTZ")}` +
    `<tt:SupportedPTZSpaces>` +
    space("AbsolutePanTiltPositionSpace", PT_POSITION, -1, true) +
    space("AbsoluteZoomPositionSpace", ZOOM_POSITION, 0, false) +
    space("ContinuousPanTiltVelocitySpace", PT_VELOCITY, -1, true) +
    space("ContinuousZoomVelocitySpace", ZOOM_VELOCITY, -1, false) +
    `</tt:SupportedPTZSpaces>${tag("tt:MaximumNumberOfPresets", MAX_PRESETS)}` +
    `${tag("tt:HomeSupported", false)}</tptz:PTZNode>`;
}

function configurationBody(useCount: number): string {
  return `${tag("tt:Name", CONFIG)}${tag("tt:UseCount", useCount)}${tag("tt:NodeToken", NODE)}` +
    tag("tt:DefaultContinuousPanTiltVelocitySpace", PT_VELOCITY) +
    tag("tt:DefaultContinuousZoomVelocitySpace", ZOOM_VELOCITY);
}

function positionXml(p: PtzVector): string {
  return `<tt:PanTilt x="${p.pan.toFixed(4)}" y="${p.tilt.toFixed(4)}" space="${PT_POSITION}"/>` +
    `<tt:Zoom x="${p.zoom.toFixed(4)}" space="${ZOOM_POSITION}"/>`;
}

/** x/y attributes of the first `<…:local …/>`, as numbers; undefined when the element is absent. */
function vector(xml: string, local: string): { x?: number; y?: number } | undefined {
  const attrs = elementAttrs(xml, local);
  if (attrs === undefined) return undefined;
  const num = (name: string) => {
    const m = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(attrs);
    return m === null ? undefined : Number(m[1]);
  };
  const x = num("x");
  const y = num("y");
  return { ...(x !== undefined ? { x } : {}), ...(y !== undefined ? { y } : {}) };
}

/** xs:duration as ONVIF uses it for timeouts ("PT1S", "PT0.5S", "PT1M30S"); null: not one. */
export function parseDurationMs(s: string): number | null {
  const m = /^PT(?:(\d{1,4})M)?(?:(\d{1,6}(?:\.\d{1,3})?)S)?$/.exec(s.trim());
  if (m === null || (m[1] === undefined && m[2] === undefined)) return null;
  return Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
}

const badArg = (why: string) => soapFault("Sender", "ter:InvalidArgVal", why);

/** The PTZ service of one camera whose media profiles have these tokens. */
export function ptzService(state: PtzState, profileTokens: readonly string[]): OnvifPtzExtension {
  /** null: the request names one of our profiles; otherwise the fault. */
  const checkProfile = (xml: string): Response | null => {
    const token = elementText(xml, "ProfileToken");
    if (token !== undefined && profileTokens.includes(token)) return null;
    return soapFault(
      "Sender",
      "ter:InvalidArgVal/ter:NoProfile",
      `unknown ProfileToken "${token ?? ""}"; valid tokens: ${profileTokens.join(", ")}`,
    );
  };
  const ok = (body: string) => soapResponse(body);

  const handlers: Record<string, (xml: string) => Response> = {
    GetNodes: () => ok(`<tptz:GetNodesResponse>${nodeXml()}</tptz:GetNodesResponse>`),
    GetNode: (xml) =>
      elementText(xml, "NodeToken") === NODE
        ? ok(`<tptz:GetNodeResponse>${nodeXml()}</tptz:GetNodeResponse>`)
        : badArg(`unknown NodeToken; the node is ${NODE}`),
    GetConfigurations: () =>
      ok(
        `<tptz:GetConfigurationsResponse><tptz:PTZConfiguration token="${CONFIG}">` +
          `${configurationBody(profileTokens.length)}</tptz:PTZConfiguration>` +
          `</tptz:GetConfigurationsResponse>`,
      ),
    GetConfiguration: (xml) =>
      elementText(xml, "PTZConfigurationToken") === CONFIG
        ? ok(
          `<tptz:GetConfigurationResponse><tptz:PTZConfiguration token="${CONFIG}">` +
            `${configurationBody(profileTokens.length)}</tptz:PTZConfiguration>` +
            `</tptz:GetConfigurationResponse>`,
        )
        : badArg(`unknown PTZConfigurationToken; the configuration is ${CONFIG}`),
    ContinuousMove: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const velocity = /<(?:[\w.-]+:)?Velocity\b[\s\S]*?<\/(?:[\w.-]+:)?Velocity\s*>/.exec(xml)
        ?.[0];
      if (velocity === undefined) return badArg("ContinuousMove needs a Velocity");
      const pt = vector(velocity, "PanTilt");
      const z = vector(velocity, "Zoom");
      const v = { pan: pt?.x ?? 0, tilt: pt?.y ?? 0, zoom: z?.x ?? 0 };
      for (const [k, n] of Object.entries(v)) {
        if (!Number.isFinite(n) || Math.abs(n) > 1) {
          return badArg(`velocity ${k} ${n} is outside the generic space -1..1`);
        }
      }
      const rawTimeout = elementText(xml, "Timeout");
      let timeoutMs: number | null = null;
      if (rawTimeout !== undefined) {
        timeoutMs = parseDurationMs(rawTimeout);
        if (timeoutMs === null || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_S * 1000) {
          return badArg(
            `Timeout "${rawTimeout}" is not a duration from PT0.001S to PT${MAX_TIMEOUT_S}S`,
          );
        }
      }
      state.move(v, timeoutMs);
      return ok(`<tptz:ContinuousMoveResponse/>`);
    },
    Stop: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const panTilt = elementText(xml, "PanTilt");
      const zoom = elementText(xml, "Zoom");
      // Both absent: stop everything (ONVIF PTZ 5.3.5).
      const both = panTilt === undefined && zoom === undefined;
      state.stop(both || panTilt === "true", both || zoom === "true");
      return ok(`<tptz:StopResponse/>`);
    },
    GetStatus: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const moving = state.moving();
      return ok(
        `<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>${
          positionXml(state.position())
        }</tt:Position>` +
          `<tt:MoveStatus>${tag("tt:PanTilt", moving.panTilt ? "MOVING" : "IDLE")}` +
          `${tag("tt:Zoom", moving.zoom ? "MOVING" : "IDLE")}</tt:MoveStatus>` +
          `${
            tag("tt:UtcTime", new Date().toISOString())
          }</tptz:PTZStatus></tptz:GetStatusResponse>`,
      );
    },
    GetPresets: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      return ok(
        `<tptz:GetPresetsResponse>${
          state.presets().map((p) =>
            `<tptz:Preset token="${xmlEscape(p.token)}">${tag("tt:Name", p.name)}` +
            `<tt:PTZPosition>${positionXml(p.position)}</tt:PTZPosition></tptz:Preset>`
          ).join("")
        }</tptz:GetPresetsResponse>`,
      );
    },
    SetPreset: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const name = elementText(xml, "PresetName") ?? "";
      if (name.length === 0 || name.length > 64) {
        return badArg("PresetName must be 1 to 64 characters");
      }
      const token = elementText(xml, "PresetToken");
      const r = state.setPreset(name, token);
      if ("error" in r) return badArg(r.error);
      return ok(
        `<tptz:SetPresetResponse>${tag("tptz:PresetToken", r.token)}</tptz:SetPresetResponse>`,
      );
    },
    GotoPreset: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const token = elementText(xml, "PresetToken") ?? "";
      if (!state.gotoPreset(token)) {
        return soapFault("Sender", "ter:InvalidArgVal/ter:NoToken", `no preset "${token}"`);
      }
      return ok(`<tptz:GotoPresetResponse/>`);
    },
    RemovePreset: (xml) => {
      const bad = checkProfile(xml);
      if (bad) return bad;
      const token = elementText(xml, "PresetToken") ?? "";
      if (!state.removePreset(token)) {
        return soapFault("Sender", "ter:InvalidArgVal/ter:NoToken", `no preset "${token}"`);
      }
      return ok(`<tptz:RemovePresetResponse/>`);
    },
  };
  return {
    profileConfiguration: `<tt:PTZConfiguration token="${CONFIG}">${
      configurationBody(profileTokens.length)
    }</tt:PTZConfiguration>`,
    handlers,
  };
}
