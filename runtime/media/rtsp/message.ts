/** RTSP/1.0 messages (RFC 2326 §6–7): requests written, answers' heads parsed. */

/** An RTSP answer. */
export interface RtspAnswer {
  readonly status: number;
  readonly reason: string;
  /** Lower-case names; a header may come more than once (WWW-Authenticate). */
  readonly headers: Map<string, string[]>;
  readonly body: string;
}

/** The text of one request, ending in the blank line. */
export function requestText(
  method: string,
  uri: string,
  cseq: number,
  headers: Readonly<Record<string, string>> = {},
): string {
  const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${cseq}`, "User-Agent: nvr"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/**
 * The status line and headers of an answer's head (the text before the blank line), or null
 * when the status line is not RTSP.
 */
export function parseAnswerHead(
  head: string,
): { status: number; reason: string; headers: Map<string, string[]> } | null {
  const [statusLine = "", ...lines] = head.split(/\r?\n/);
  const status = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(statusLine);
  if (!status) return null;
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name);
    if (list) list.push(line.slice(colon + 1).trim());
    else headers.set(name, [line.slice(colon + 1).trim()]);
  }
  return { status: Number(status[1]), reason: status[2] ?? "", headers };
}
