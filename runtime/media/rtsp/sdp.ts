/** SDP (RFC 4566) as an RTSP camera describes its streams: the media lines we need. */

/** One `m=` section of the SDP. */
export interface SdpMedia {
  /** "video", "audio", "application", … */
  readonly media: string;
  /** The first payload type of the `m=` line. */
  readonly payloadType: number;
  /** RTP encoding name in upper case ("H265", "MPEG4-GENERIC", "PCMA"), "" when unknown. */
  readonly encoding: string;
  readonly clockRate: number | null;
  readonly channels: number | null;
  /** The `a=fmtp` parameters of that payload type, e.g. "mode=AAC-hbr;config=1408". */
  readonly fmtp: string;
  /** From the camera's side: "recvonly" is a back channel (audio to the camera's speaker). */
  readonly direction: "sendrecv" | "sendonly" | "recvonly" | "inactive";
  /** The media's `a=control:` URL as written (relative or absolute, "*"), null when absent. */
  readonly control: string | null;
}

/** Static RTP payload types a camera may send without an rtpmap line (RFC 3551). */
const STATIC_PAYLOADS: Readonly<Record<number, [string, number, number]>> = {
  0: ["PCMU", 8000, 1],
  8: ["PCMA", 8000, 1],
  14: ["MPA", 90000, 1],
  26: ["JPEG", 90000, 1],
};
/** The `m=` sections of an SDP, each with its first payload type's rtpmap, fmtp and direction. */
export function parseSdp(text: string): SdpMedia[] {
  const sections: { media: string; payloadType: number; attrs: string[] }[] = [];
  const session: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^m=(\S+)\s+\S+\s+\S+\s+(\d+)/.exec(line);
    if (m) {
      sections.push({ media: m[1] ?? "", payloadType: Number(m[2]), attrs: [] });
      continue;
    }
    if (!line.startsWith("a=")) continue;
    (sections.at(-1)?.attrs ?? session).push(line.slice(2));
  }
  const direction = (attrs: string[]) =>
    attrs.find((a) => /^(sendrecv|sendonly|recvonly|inactive)$/.test(a)) as
      | SdpMedia["direction"]
      | undefined;
  const sessionDirection = direction(session) ?? "sendrecv";
  return sections.map(({ media, payloadType, attrs }) => {
    const value = (name: string) => {
      const prefix = `${name}:${payloadType} `;
      return attrs.find((a) => a.startsWith(prefix))?.slice(prefix.length).trim() ?? null;
    };
    const rtpmap = value("rtpmap")?.split("/");
    const fixed = STATIC_PAYLOADS[payloadType];
    const [encoding, clock, channels] = rtpmap
      ? [rtpmap[0] ?? "", Number(rtpmap[1]) || null, Number(rtpmap[2]) || null]
      : fixed ?? ["", null, null];
    return {
      media,
      payloadType,
      encoding: encoding.toUpperCase(),
      clockRate: clock,
      channels: channels ?? (media === "audio" && clock !== null ? 1 : null),
      fmtp: value("fmtp") ?? "",
      direction: direction(attrs) ?? sessionDirection,
      control: attrs.find((a) => a.startsWith("control:"))?.slice(8).trim() ?? null,
    };
  });
}
