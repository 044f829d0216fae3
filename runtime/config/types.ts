/** The validated configuration. Pure types: every other module reads these, none writes them. */
import type { VideoCodec } from "../media/codec/types.ts";
import type { LogLevel } from "../lib/log.ts";

/** The one VideoCodec (media/codec/types.ts): what a camera sends. */
export type { LogLevel, VideoCodec };
export type RtspTransport = "tcp" | "udp";

export interface CameraConfig {
  /** Short id used in paths, topics and logs: letters, digits, '-' and '_', at most 32. */
  readonly id: string;
  /** Human name shown on the web page. Defaults to the id. */
  readonly name: string;
  /**
   * Where the stream comes from. The scheme picks the source: rtsp, rtsps, or v4l2 for a USB
   * camera (`v4l2:///dev/video0`, or a stable `v4l2:///dev/v4l/by-id/…` path).
   */
  readonly url: string;
  readonly enabled: boolean;
  /** RTSP lower transport. */
  readonly transport: RtspTransport;
  /** Codec the camera sends. H.265 is recorded as it comes, without re-encoding. RTSP only. */
  readonly codec: VideoCodec;
  /** Credentials, when not in the URL. */
  readonly username: string | null;
  readonly password: string | null;
  /** Days recordings of this camera are kept at most; null: storage.retentionDays. */
  readonly retentionDays: number | null;
  /**
   * Segments in which the camera raised an event of its own (ONVIF motion, input, …) are kept
   * this many days longer than the camera's retention. Absent when not set (no extra).
   */
  readonly eventRetentionExtraDays?: number;
  /**
   * The camera's H.264 sub-stream (e.g. rtsp://…/sub), served to browsers as live fragmented MP4;
   * null: the page refreshes a JPEG snapshot instead.
   */
  readonly subUrl: string | null;
  /**
   * rtsps:// cameras: a PEM file with the CA (or the camera's self-signed certificate) its TLS
   * certificate must chain to, besides the system's roots. Absent when not set.
   */
  readonly caFile?: string;
  /**
   * USB (v4l2) cameras only, each optional: the largest capture width, height and frame rate to
   * take from the camera's modes (default up to 1920x1080 at 30 fps). Absent when not set.
   */
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  /**
   * The camera's ONVIF device service (identity in the fingerprint, discovery, the add-by-ONVIF
   * flow fills it in). Absent when not set.
   */
  readonly onvif?: CameraOnvifConfig;
  /**
   * When the camera is recorded: continuously, or only around its events. Absent when not set
   * (continuous).
   */
  readonly record?: CameraRecordConfig;
}

/** `events`: only around the camera's events, with pre-roll (kept in memory) and post-roll. */
export type RecordMode = "continuous" | "events";

export interface CameraRecordConfig {
  readonly mode: RecordMode;
  /** Seconds before an event that its recording starts at (whole GOPs held in memory). */
  readonly preRollSeconds: number;
  /** Seconds after the last event that its recording ends. */
  readonly postRollSeconds: number;
}

export interface CameraOnvifConfig {
  /** Device service URL, e.g. http://192.168.1.20/onvif/device_service. */
  readonly url: string;
  /** ONVIF credentials; null: the camera's username and password. */
  readonly username: string | null;
  readonly password: string | null;
  /**
   * When the camera's clock drifts past clock.cameraDriftSeconds, set its NTP server to this
   * host (ONVIF SetNTP); "box": the box's own address on the route to the camera (its NTP
   * server, ntp.listen, must be on); absent: its clock is only checked, never changed.
   */
  readonly setNtp?: string;
}

export interface NtpConfig {
  /**
   * UDP listeners, "host:port" (e.g. "0.0.0.0:123"); empty: no NTP server. Only from the image or
   * the local file, never the fleet or the API: it opens a port.
   */
  readonly listen: readonly string[];
}

export interface StorageConfig {
  /** Folder for recordings and the index; must be on the recording disk. */
  readonly dataDir: string;
  /** Length of a recorded segment, in seconds. */
  readonly segmentSeconds: number;
  /** Mount point the data folder must be on (the SSD); null: no check. */
  readonly requireMount: string | null;
  /** Most bytes recordings may take; null: no budget (free space still applies). */
  readonly maxBytes: number | null;
  /** Free space kept on the disk: the larger of these two. */
  readonly minFreeBytes: number;
  readonly minFreePercent: number;
  /** Days recordings are kept at most; null: until the space is needed. */
  readonly retentionDays: number | null;
}

/** "auto": HTTPS with a certificate made on the box; "files": certFile/keyFile; "off": plain. */
export type HttpTls = "auto" | "files" | "off";

export interface HttpConfig {
  /** host:port the local API and web page listen on. */
  readonly listen: string;
  /** Days the audit log of user actions is kept. */
  readonly auditRetentionDays: number;
  /** Days sign-in attempts (address, browser) are kept; suspicious ones as long as the audit. */
  readonly loginHistoryDays: number;
  /** How the listener is secured. */
  readonly tls: HttpTls;
  /** Live viewers of one camera at once (live.ws and live.mp4); more are refused. */
  readonly liveViewersPerCamera: number;
  /** Live viewers of all cameras at once. */
  readonly liveViewersTotal: number;
  /**
   * H.265 → H.264 transcodes running at once on this box, live views and recorded ranges
   * together, for browsers without H.265; more are refused. null: the board profile's number
   * (runtime/board/profiles, `transcode`; docs/benchmarks.md, "Transcode").
   */
  readonly transcodesMax: number | null;
  /** PEM certificate (chain) and key when tls is "files". */
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** host:port of a plain-HTTP listener that only redirects to HTTPS (and serves /healthz). */
  readonly redirectListen: string | null;
  /** Extra names (or addresses) of the box allowed in Host and Origin, e.g. "nvr.example.lan". */
  readonly allowedHosts: readonly string[];
}

export interface MqttConfig {
  /** Broker URL (mqtt://, mqtts://), or null for no fleet link. */
  readonly url: string | null;
  /** Broker login, when the broker asks for one. */
  readonly username: string | null;
  readonly password: string | null;
  /** PEM files for TLS: the CA that signed the broker's certificate; null: the system's CAs. */
  readonly caFile: string | null;
  /** PEM client certificate and its key, for mutual TLS (both or neither). */
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** Seconds between periodic health messages. */
  readonly healthIntervalSeconds: number;
  /** Most messages the offline queue keeps; health samples are dropped first when full. */
  readonly queueMaxMessages: number;
  /** MQTT client id; null: the deviceId. */
  readonly clientId: string | null;
}

export interface AnalyticsConfig {
  /** Anonymised usage statistics leave the box only when an admin set this to true. */
  readonly enabled: boolean;
}

export type EncodeFallback = "x265" | "h264-hw";

/** Who remuxes a camera whose video is recorded as it comes (passthrough over RTSP/TCP). */
export type RemuxEngine = "builtin" | "gstreamer";

export interface RecordingConfig {
  /**
   * When the board has no hardware H.265 encoder: "h264-hw" keeps H.264 (hardware encoder, or
   * the camera's own H.264 as it comes); "x265" encodes H.265 in software.
   */
  readonly encodeFallback: EncodeFallback;
  /**
   * "builtin": cameras recorded as they come over RTSP/TCP are received and written to fMP4 by
   * the daemon's own RTSP client and muxer (a third of the CPU); "gstreamer": by rtspsrc and
   * splitmuxsink. Encoding, USB cameras and UDP always use GStreamer.
   */
  readonly remux: RemuxEngine;
  /** A pipeline that delivers no frame for this long is restarted. */
  readonly stallSeconds: number;
  /**
   * Cameras recorded by one recorder process (a crash there touches only them); 0 records every
   * camera inside the daemon process itself.
   */
  readonly camerasPerProcess: number;
  /**
   * Cameras recorded by the built-in remuxer share recorder processes in groups this big (no
   * native code to contain; fewer processes cost less CPU). 0 in camerasPerProcess still means
   * all in the daemon.
   */
  readonly builtinCamerasPerProcess: number;
  /**
   * Timeline thumbnails: "on-close" makes one per segment when it closes (one background process
   * at the lowest CPU priority; playback/thumbnail_queue.ts); "on-demand" only when a pointer
   * first hovers over the segment on the timeline.
   */
  readonly thumbnails: ThumbnailMode;
}

export type ThumbnailMode = "on-close" | "on-demand";

/** A key that signs licences: raw 32-byte Ed25519 public key, base64url. */
export interface LicenceKeyConfig {
  readonly id: string;
  readonly publicKey: string;
}

export interface LicenceConfig {
  /**
   * The image's read-only licence policy file: trusted keys, grace days, cameras without a
   * licence (see LicencePolicy). No file: licensing is off and every camera records.
   */
  readonly keysFile: string;
}

/** What the licence keys file holds; it ships in the image and nothing on the box changes it. */
export interface LicencePolicy {
  /** Keys trusted to sign licences. */
  readonly publicKeys: readonly LicenceKeyConfig[];
  /** Days after expiry during which the licence still counts. */
  readonly graceDays: number;
  /** Cameras that record without a usable licence. */
  readonly unlicensedCameras: number;
}

export interface UpdateConfig {
  /**
   * When an update sent with `reboot: "window"` may reboot the box: "HH:MM-HH:MM" local time
   * (may wrap midnight); null: such an update reboots at once.
   */
  readonly rebootWindow: string | null;
}

/** First boot: the provisioning file and the identity store (runtime/fleet/provision.ts). */
export interface ProvisionConfig {
  /** nvr-provision.json, read once at start and then wiped (on the boot partition). */
  readonly file: string;
  /** The identity store (device key and certificate, fleet CA, fleet URL), on `state`. */
  readonly identityDir: string;
  /** Accept mqtt:// and ws:// fleet URLs in the provisioning file (tests only). */
  readonly allowInsecure: boolean;
}
export type ClockTrustMode = "auto" | "always";

/** One sensor plugin's entry in `plugins` (keyed by the plugin's id). */
export interface PluginConfig {
  /** Run it (when installed in `<dataDir>/plugins/<id>/`). */
  readonly enabled: boolean;
  /** Its settings, checked against its manifest's schema when applied; absent ones: defaults. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** Cameras its alarms concern: each alarm is marked on their timelines too. Default none. */
  readonly cameras: readonly string[];
  /**
   * Keep those cameras' recordings from this many minutes before each alarm to as many after it,
   * like an operator's keep (retention does not delete them). 0 (default): mark only.
   */
  readonly keepMinutes: number;
}

export interface NvrConfig {
  readonly device: { readonly name: string };
  readonly storage: StorageConfig;
  readonly http: HttpConfig;
  readonly mqtt: MqttConfig;
  readonly analytics: AnalyticsConfig;
  readonly licence: LicenceConfig;
  readonly log: { readonly level: LogLevel };
  readonly recording: RecordingConfig;
  readonly update: UpdateConfig;
  readonly provision: ProvisionConfig;
  /**
   * `trust`: "auto" believes the wall clock once systemd-timesyncd has synced it or the board
   * has an RTC; "always" for boxes with an RTC and no network. Never a time before the build date.
   */
  readonly clock: {
    readonly trust: ClockTrustMode;
    /**
     * A camera whose clock (ONVIF GetSystemDateAndTime) is further than this from the box's is
     * a health warning and a `camera-clock-drift` event.
     */
    readonly cameraDriftSeconds: number;
  };
  /** The box's own SNTP server (runtime/ntp/), for its cameras. */
  readonly ntp: NtpConfig;
  /** Sensor plugins by id: enabled and settings (runtime/plugins/). */
  readonly plugins: Readonly<Record<string, PluginConfig>>;
  readonly cameras: readonly CameraConfig[];
}
