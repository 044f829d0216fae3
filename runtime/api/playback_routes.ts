/**
 * Playback of recordings over HLS, for the timeline (web/page/screens/timeline.js):
 *
 *   GET /cameras/:camera/days?tz=         days with recordings in the viewer's time zone
 *   GET /cameras/:camera/playlist.m3u8    fMP4 HLS playlist of ?from= to ?to= (at most 24 h);
 *                                         with &codec=h264, MPEG-TS parts in H.264 (transcoded)
 *   GET /recordings/:id/init.mp4          a segment's init part (ftyp + moov), the EXT-X-MAP
 *   GET /recordings/:id/media.m4s?at=     its media part, retimed to start `at` ms into its run
 *   GET /recordings/:id/h264.ts           the segment in H.264 MPEG-TS at ≤ 640 px (range_transcode.ts)
 *   GET /recordings/:id/thumb.jpg         a small JPEG of its first keyframe (cached)
 *   GET /cameras/:camera/events           its events and the box-wide sensor alarms, ?from= to ?to= (marks)
 *
 * Same auth as every recordings route (the app's requireUser and canSee): a segment of a camera
 * the user may not see answers 404 like a missing one. Asking for a playlist is audited
 * (recording.play); the parts it names are not, or every 10 s of watching would be a row.
 */
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { IndexedSegment, SegmentIndex } from "../storage/mod.ts";
import { HlsPartError, initPart, mediaPart } from "../media/fmp4/hls_parts.ts";
import { hlsPlaylist, MAX_RUN_MS } from "../playback/hls_playlist.ts";
import { recordingDays } from "../playback/recording_days.ts";
import { UnknownTimeZoneError } from "../playback/local_day.ts";
import { ThumbnailBusyError, ThumbnailError, type Thumbnails } from "../playback/thumbnails.ts";
import type { CameraAccess } from "./recordings.ts";
import {
  RangeTranscodeError,
  type RangeTranscodes,
  TranscodeBusyError,
  transcodedPlaylist,
} from "../playback/range_transcode.ts";

/** Longest playlist: a day (a day picker's page), 8 640 lines of 10 s segments. */
export const MAX_PLAYLIST_MS = 24 * 3600_000;
/** Most segments one playlist names (a day of 2 s segments would be 43 200). */
export const MAX_PLAYLIST_SEGMENTS = 20_000;
/** Most events one answer holds (the newest of the range). */
const MAX_EVENTS = 2_000;
/** A segment file larger than this is not served in parts (10 s at 4 Mbit/s is 5 MB). */
const MAX_PART_FILE_BYTES = 256 << 20;

export interface PlaybackRoutesDeps {
  readonly dataDir: string;
  readonly index: () => SegmentIndex;
  readonly access: CameraAccess;
  readonly thumbnails: Thumbnails;
  /** H.265 recordings for browsers without H.265; absent: `codec=h264` answers 501. */
  readonly transcodes?: RangeTranscodes;
  /** The camera id from the request, checked: 400 malformed, 404 unknown or not visible. */
  readonly visibleCamera: (c: Context, camera: string | undefined) => string;
  /** The segment of `:id`, checked: 404 missing or not visible. */
  readonly visibleSegment: (c: Context, id: string) => IndexedSegment;
  /** from/to from the query, checked (at most `maxMs` apart). */
  readonly range: (from?: string, to?: string, maxMs?: number) => { from: number; to: number };
}

export function addPlaybackRoutes(app: Hono, deps: PlaybackRoutesDeps): void {
  app.get("/cameras/:camera/days", (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    const tz = c.req.query("tz") ?? "UTC";
    try {
      return c.json(recordingDays(deps.index(), camera, tz));
    } catch (err) {
      if (err instanceof UnknownTimeZoneError) {
        throw new HTTPException(400, { message: err.message });
      }
      throw err;
    }
  });

  app.get("/cameras/:camera/events", (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    const { from, to } = deps.range(c.req.query("from"), c.req.query("to"), MAX_PLAYLIST_MS * 31);
    const events = deps.index().cameraMarks(from, to, camera);
    return c.json({
      camera,
      from,
      to,
      events: events.slice(-MAX_EVENTS),
      more: events.length > MAX_EVENTS,
    });
  });

  app.get("/cameras/:camera/playlist.m3u8", (c) => {
    const camera = deps.visibleCamera(c, c.req.param("camera"));
    const { from, to } = deps.range(c.req.query("from"), c.req.query("to"), MAX_PLAYLIST_MS);
    const segments = deps.index().range(camera, from, to).slice(0, MAX_PLAYLIST_SEGMENTS);
    deps.access.audit(
      c,
      "recording.play",
      `${camera} ${new Date(from).toISOString()}/${new Date(to).toISOString()}`,
    );
    const codec = c.req.query("codec");
    if (codec !== undefined && codec !== "h264") {
      throw new HTTPException(400, {
        message: "codec: only h264 (a transcode for browsers without H.265), or leave it out",
      });
    }
    if (codec === "h264" && !deps.transcodes?.available) {
      throw new HTTPException(501, {
        message: "This box cannot transcode H.265 to H.264 (no decoder or encoder on the " +
          "board; see the log): watch in a browser with H.265 support or export the range",
      });
    }
    const body = codec === "h264"
      ? transcodedPlaylist(segments, {
        startMs: from,
        mediaUrl: (s) => `/api/recordings/${s.id}/h264.ts`,
      })
      : hlsPlaylist(segments, {
        startMs: from,
        initUrl: (s) => `/api/recordings/${s.id}/init.mp4`,
        mediaUrl: (s, at) => `/api/recordings/${s.id}/media.m4s?at=${at}`,
      });
    return c.body(body, 200, {
      "content-type": "application/vnd.apple.mpegurl",
      "cache-control": "no-store",
    });
  });

  app.get("/recordings/:id/init.mp4", async (c) => {
    const segment = deps.visibleSegment(c, c.req.param("id"));
    const part = cut(segment, await readSegment(deps.dataDir, segment), initPart);
    return c.body(part as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "video/mp4",
      "cache-control": "private, max-age=86400",
    });
  });

  app.get("/recordings/:id/media.m4s", async (c) => {
    const at = atOf(c.req.query("at"));
    const segment = deps.visibleSegment(c, c.req.param("id"));
    const file = await readSegment(deps.dataDir, segment);
    const part = cut(segment, file, (f) => mediaPart(f, at / 1000));
    return c.body(part as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "video/iso.segment",
      "cache-control": "private, max-age=86400",
    });
  });

  app.get("/recordings/:id/h264.ts", async (c) => {
    const segment = deps.visibleSegment(c, c.req.param("id"));
    const transcodes = deps.transcodes;
    if (!transcodes?.available) {
      throw new HTTPException(501, { message: "This box cannot transcode H.265 to H.264" });
    }
    let ts: Uint8Array;
    try {
      ts = await transcodes.ts(segment, () => readSegment(deps.dataDir, segment));
    } catch (err) {
      if (err instanceof TranscodeBusyError) {
        c.header("retry-after", "5");
        throw new HTTPException(503, { message: err.message });
      }
      if (err instanceof RangeTranscodeError) {
        throw new HTTPException(422, { message: err.message });
      }
      throw err;
    }
    return c.body(ts as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "video/mp2t",
      "cache-control": "private, max-age=86400",
    });
  });

  app.get("/recordings/:id/thumb.jpg", async (c) => {
    const segment = deps.visibleSegment(c, c.req.param("id"));
    let jpeg: Uint8Array;
    try {
      jpeg = await deps.thumbnails.jpeg(segment);
    } catch (err) {
      if (err instanceof ThumbnailBusyError) {
        c.header("retry-after", "1");
        throw new HTTPException(503, { message: err.message });
      }
      if (err instanceof ThumbnailError) throw new HTTPException(404, { message: err.message });
      throw err;
    }
    return c.body(jpeg as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "image/jpeg",
      "cache-control": "private, max-age=86400",
    });
  });
}

/** `at`: where a segment starts in its run (ms), as the playlist's URLs give it. */
function atOf(raw = ""): number {
  const at = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(at <= MAX_RUN_MS)) {
    throw new HTTPException(400, {
      message: `at: give where the segment starts in its run, 0 to ${MAX_RUN_MS} ms ` +
        "(the playlist's URLs have it)",
    });
  }
  return at;
}

async function readSegment(dataDir: string, segment: IndexedSegment): Promise<Uint8Array> {
  if (segment.bytes > MAX_PART_FILE_BYTES) {
    throw new HTTPException(413, {
      message: `Segment ${segment.id} is ${segment.bytes} bytes, too large to play in parts; ` +
        "download it instead",
    });
  }
  try {
    return await Deno.readFile(`${dataDir}/${segment.path}`);
  } catch {
    throw new HTTPException(410, { message: `Segment ${segment.id} is no longer on disk` });
  }
}

function cut(
  segment: IndexedSegment,
  file: Uint8Array,
  part: (file: Uint8Array) => Uint8Array,
): Uint8Array {
  try {
    return part(file);
  } catch (err) {
    if (err instanceof HlsPartError) {
      throw new HTTPException(422, {
        message: `Segment ${segment.id} cannot be played in parts (${err.message}); download it`,
      });
    }
    throw err;
  }
}
