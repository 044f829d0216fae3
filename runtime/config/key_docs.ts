/**
 * What each configuration key is, for people: docs/config.md's "Keys" table is made from this
 * (`keysTable()`; config_test.ts checks the doc), and the Settings page's descriptions come from it
 * too (settings_schema.ts), so the two never say different things. Keys are written as the doc
 * writes them: `cameras[].x` for a camera's field, `plugins.<id>.x` for a plugin's.
 */

export interface KeyDoc {
  readonly key: string;
  /** Further fields the row covers (`cameras[].width`, `height`). */
  readonly also?: readonly string[];
  readonly type: string;
  readonly default: string;
  readonly allowed: string;
  readonly meaning: string;
}

export const KEY_DOCS: readonly KeyDoc[] = [
  {
    key: "device.name",
    type: "string",
    default: '`"nvr"`',
    allowed: "not empty",
    meaning: "Name of this box, shown on the page and to the fleet.",
  },
  {
    key: "storage.dataDir",
    type: "string",
    default: '`"/var/lib/nvr"`',
    allowed: "a folder path",
    meaning:
      "Recordings (`recordings/<camera>/<date>/<hour>/`) and the SQLite index (`index.sqlite`). Must be on the recording disk.",
  },
  {
    key: "storage.segmentSeconds",
    type: "number or duration",
    default: "`60`",
    allowed: '2 to 3600 s; `"90s"`, `"10m"`, `"1h"`',
    meaning:
      "Length of one recorded file. Cut on a keyframe, so a camera's keyframe interval must be shorter.",
  },
  {
    key: "storage.requireMount",
    type: "string or null",
    default: "`null`",
    allowed: "an absolute path other than `/` that contains `storage.dataDir`",
    meaning:
      'Mount point of the recording disk (e.g. `"/mnt/ssd"`). When set, nothing is written unless the data folder is on that mount (checked in `/proc/self/mountinfo` and by device number): if the SSD is missing or not mounted, recording stops with an error naming the folder and the mount instead of filling the root filesystem, and starts by itself once the disk is back.',
  },
  {
    key: "storage.maxBytes",
    type: "size or null",
    default: "`null`",
    allowed: 'bytes, or `"200M"`, `"500G"`, `"1.5T"` (K, M, G, T = 1024ⁿ; at least 1 MiB)',
    meaning:
      "Most space the recordings may take; the oldest unlocked segments of any camera are deleted beyond it. Checked each time a segment closes (the index keeps running totals), so recordings stay within it plus about one segment per camera. `null`: no budget (the free-space minimum still applies).",
  },
  {
    key: "storage.minFreeBytes",
    type: "size",
    default: '`2147483648` (`"2G"`)',
    allowed: "bytes or a size",
    meaning:
      "Free space kept on the disk: the oldest unlocked segments are deleted when less is available. The larger of this and `minFreePercent` applies.",
  },
  {
    key: "storage.minFreePercent",
    type: "number",
    default: "`5`",
    allowed: "0 to 50",
    meaning: "Free space kept, as a percentage of the disk's size.",
  },
  {
    key: "storage.retentionDays",
    type: "number or null",
    default: "`null`",
    allowed: "0.01 to 3650, or `null`",
    meaning:
      "Segments older than this (by their end) are deleted. `null`: kept until the space is needed. Locked segments are never deleted.",
  },
  {
    key: "http.listen",
    type: "string",
    default: '`"0.0.0.0:8080"`',
    allowed: "`host:port`",
    meaning: 'Local API and web page (HTTPS unless `http.tls` is `"off"`).',
  },
  {
    key: "http.auditRetentionDays",
    type: "number",
    default: "`365`",
    allowed: "1 to 3650",
    meaning: "Days the audit log of user actions (logins, changes, refusals) is kept.",
  },
  {
    key: "http.loginHistoryDays",
    type: "number",
    default: "`90`",
    allowed: "1 to 3650",
    meaning:
      "Days sign-in attempts (address, browser, outcome) are kept; those of suspicious sign-ins are kept as long as the audit log.",
  },
  {
    key: "http.tls",
    type: "string",
    default: '`"auto"`',
    allowed: '`"auto"`, `"files"`, `"off"`',
    meaning:
      'How the page and API are secured. `"auto"`: HTTPS with a certificate the box makes at its first start (ECDSA P-256, valid 10 years, named for the box\'s hostname, `hostname.local`, its addresses and `allowedHosts`), kept in `<dataDir>/tls/` (key 0600) and reused; its SHA-256 fingerprint is printed at start (`https certificate sha256: AB:CD:…`) and sent to the fleet in `state`, so compare it with what the browser shows before trusting it. `"files"`: your own certificate (`certFile`, `keyFile`). `"off"`: plain HTTP (passwords and cookies cross the LAN readable; only behind a TLS proxy on the same box).',
  },
  {
    key: "http.liveViewersPerCamera",
    type: "number",
    default: "`8`",
    allowed: "0 to 64",
    meaning:
      'Live viewers of one camera at once (the page\'s WebSocket live view and `live.mp4` together); more are refused with a reason shown on the page. Viewers share the one session the recorder (or the shared sub-stream) has to the camera; each costs the board one fMP4 fragment per frame and its bytes on the LAN (docs/benchmarks.md). Changeable remotely; applies to the next viewer without a restart (viewers already watching stay). Default from what a viewer costs: 8 viewers of a 1080p 4.4 Mbit/s main stream got every frame for 0.1–0.4 % of a core and about 2 MiB each (docs/benchmarks.md, "Live view"); the LAN, not the board, is what more would use up.',
  },
  {
    key: "http.liveViewersTotal",
    type: "number",
    default: "`16`",
    allowed: "0 to 256",
    meaning:
      'Live viewers of all cameras at once. Changeable remotely; applies to the next viewer without a restart. Default from the LAN: 16 main streams of 4.4 Mbit/s are 70 Mbit/s, most of a 100 Mbit/s port (docs/benchmarks.md, "Live view").',
  },
  {
    key: "http.transcodesMax",
    type: "number or null",
    default: "`null`",
    allowed: "0 to 16, or `null`",
    meaning:
      'H.265 → H.264 transcodes running at once on this box, live views and recorded ranges together, for browsers without H.265 when the camera has no H.264 sub-stream; more are refused with a reason (the recording is never slowed by them). `null`: the board profile\'s number (`transcode`, runtime/board/README.md): 2 for a software transcode, measured (docs/benchmarks.md, "Transcode"). `GET /api/health` shows the cap in force and its source (`transcodes`). Changeable remotely; applies to the next transcode without a restart (those running go on).',
  },
  {
    key: "http.certFile",
    type: "string or null",
    default: "`null`",
    allowed: 'an absolute path; only with `tls` `"files"`',
    meaning: "PEM certificate (with its chain) for HTTPS.",
  },
  {
    key: "http.keyFile",
    type: "string or null",
    default: "`null`",
    allowed: 'an absolute path; only with `tls` `"files"`',
    meaning: "PEM private key of `certFile`; keep it 0600.",
  },
  {
    key: "http.redirectListen",
    type: "string or null",
    default: "`null`",
    allowed: '`host:port`, or `null`; not with `tls` `"off"`',
    meaning:
      'A plain-HTTP listener (e.g. `"0.0.0.0:80"`) that answers every request with a redirect to the HTTPS address and serves `/healthz`; nothing else is served in clear. `null`: none.',
  },
  {
    key: "http.allowedHosts",
    type: "list of strings",
    default: "`[]`",
    allowed: "up to 32 host names or addresses, no scheme or port",
    meaning:
      "Extra names the page may be opened by (e.g. a DNS name pointing at the box). Requests whose `Host` is not one of the box's names (its hostname, `hostname.local`, `localhost`, its addresses, the listen address, these) are refused with 421, and state-changing requests from another `Origin` with 403, against DNS rebinding and cross-site posts. `/healthz` answers any name.",
  },
  {
    key: "mqtt.url",
    type: "string or null",
    default: "`null`",
    allowed: "`mqtt:`, `mqtts:`, `ws:`, `wss:`",
    meaning: "Fleet broker; `null` runs without a fleet link.",
  },
  {
    key: "mqtt.username",
    type: "string or null",
    default: "`null`",
    allowed: "",
    meaning: "Broker login name, when the broker asks for one.",
  },
  {
    key: "mqtt.password",
    type: "string or null",
    default: "`null`",
    allowed: "",
    meaning:
      "Broker password. Never sent to the fleet (redacted in `get-config` and `config/reported`).",
  },
  {
    key: "mqtt.caFile",
    type: "string or null",
    default: "`null`",
    allowed: "an absolute path; only with `mqtts:`/`wss:`",
    meaning: "PEM file of the CA that signed the broker's certificate; `null`: the system's CAs.",
  },
  {
    key: "mqtt.certFile",
    type: "string or null",
    default: "`null`",
    allowed: "an absolute path; with `keyFile`",
    meaning: "PEM client certificate for mutual TLS (the broker identifies the box by it).",
  },
  {
    key: "mqtt.keyFile",
    type: "string or null",
    default: "`null`",
    allowed: "an absolute path; with `certFile`",
    meaning:
      "PEM private key of `certFile`. The files are read when the fleet link starts; a missing or unreadable file is reported by name.",
  },
  {
    key: "mqtt.healthIntervalSeconds",
    type: "number or duration",
    default: "`30`",
    allowed: '1 to 3600 s; `"30s"`, `"1m"`',
    meaning: "Seconds between periodic `health` messages (more are sent on a significant change).",
  },
  {
    key: "mqtt.queueMaxMessages",
    type: "number",
    default: "`10000`",
    allowed: "100 to 1000000",
    meaning:
      "Most messages kept in the durable offline queue (Deno KV, `fleet.kv` in `storage.dataDir`) while the broker is unreachable. When full, the oldest health samples are dropped first; events and command results are kept as long as there are samples to drop.",
  },
  {
    key: "mqtt.clientId",
    type: "string or null",
    default: "`null`",
    allowed: "1–128 printable ASCII without spaces",
    meaning: "MQTT client id; `null`: the deviceId.",
  },
  {
    key: "analytics.enabled",
    type: "boolean",
    default: "`false`",
    allowed: "",
    meaning:
      "Anonymised usage statistics leave the box only when this is `true`: once a day, on `nvr/v1/analytics`, counts only (cameras by kind and codec, commands and events by name, queue drops, software version, uptime in days), no names, URLs, addresses or serials. The only identifier is `install`, SHA-256 of a random salt (made on the box, never sent) and the deviceId, so the fleet cannot tie it to a box. See [fleet-protocol.md](fleet-protocol.md). Set only by an admin on the local page (`PUT /api/analytics/consent`, recorded in the audit log with the notice version); the fleet and `PUT /api/config` cannot change it.",
  },
  {
    key: "log.level",
    type: "string",
    default: '`"info"`',
    allowed: "`debug`, `info`, `warn`, `error`",
    meaning: "Lowest level written. Logs are one JSON object a line on stdout.",
  },
  {
    key: "recording.encodeFallback",
    type: "string",
    default: '`"h264-hw"`',
    allowed: "`h264-hw`, `x265`",
    meaning:
      "When the board has no hardware H.265 encoder (Raspberry Pi 4/5, Jetson Orin Nano): `h264-hw` records H.264 (the camera's own, or the board's H.264 encoder for raw/MJPEG sources); `x265` encodes H.265 in software (about 16 fps of 1080p on 2 cores). Cameras that send H.265 are always recorded as they come.",
  },
  {
    key: "recording.remux",
    type: "string",
    default: '`"builtin"`',
    allowed: "`builtin`, `gstreamer`",
    meaning:
      "Who records a camera whose video is kept as it comes over RTSP/TCP: `builtin` = the daemon's own RTSP client and fragmented-MP4 writer (0.52–0.59× the CPU of ffmpeg's segmenter where the GStreamer remux takes 2.35–2.63×, measured in docs/benchmarks.md; starts every segment on a keyframe, counts dropped frames); `gstreamer` = rtspsrc and splitmuxsink. Encoding, USB cameras and UDP transport always go through GStreamer.",
  },
  {
    key: "recording.stallSeconds",
    type: "number",
    default: "`10`",
    allowed: "2 to 300",
    meaning: "A camera pipeline that delivers no frame for this long is restarted.",
  },
  {
    key: "recording.camerasPerProcess",
    type: "number",
    default: "`4`",
    allowed: "0 to 64",
    meaning:
      "Cameras recorded by GStreamer in one recorder process. A crash in a GStreamer element takes down only that process's cameras, which are back within about 2 s; the API, the fleet link and other cameras never notice. `1` isolates every camera (about 55 MB of memory per process, measured); `0` records all cameras inside the daemon process (least memory, no isolation).",
  },
  {
    key: "recording.builtinCamerasPerProcess",
    type: "number",
    default: "`32`",
    allowed: "1 to 64",
    meaning:
      "Cameras recorded by the built-in remuxer (`recording.remux`) share recorder processes in groups this big: there is no native code in that path for a process to contain, and fewer, fuller processes cost less CPU (a Deno process pays for every wake-up) and less memory (each process starts at about 57 MiB before its first camera; measured in docs/benchmarks.md). A hang is still caught per process and restarts only that group.",
  },
  {
    key: "recording.thumbnails",
    type: "string",
    default: '`"on-close"`',
    allowed: '`"on-close"`, `"on-demand"`',
    meaning:
      'Timeline thumbnails (160 px JPEG of a segment\'s first keyframe). `"on-close"`: made when each segment closes, by one background process at the lowest CPU priority (`nice` 19, `SCHED_IDLE`), a bounded queue that drops the oldest waiting ones when the box cannot keep up (counted in `GET /api/health` `thumbnails`); cost in docs/benchmarks.md, "Timeline: thumbnails". `"on-demand"`: only when first hovered. Either way a segment without one gets it on hover; retention deletes it with its segment. Changeable remotely; applies at once.',
  },
  {
    key: "update.rebootWindow",
    type: "string or null",
    default: "`null`",
    allowed: '`"HH:MM-HH:MM"` (local time), or `null`',
    meaning:
      'When an update sent with `reboot: "window"` reboots the box into the new slot: at once inside the window, else at its next start; may wrap midnight (`"23:00-01:00"`). `null`: such an update reboots at once. See [updates.md](updates.md).',
  },
  {
    key: "clock.trust",
    type: "string",
    default: '`"auto"`',
    allowed: "`auto`, `always`",
    meaning:
      'Whether the wall clock is believed. `auto`: once systemd-timesyncd has synced it (`/run/systemd/timesync/synchronized`) or the board has a real-time clock; `always`: for a box with an RTC and no network. A time before the image\'s build date is never believed. Until the clock is believed, segments are recorded and indexed as `clock: "unsynced"` and re-stamped when it is; see [recording.md](recording.md#a-clock-that-is-not-set-yet). Set only in the image or the local file.',
  },
  {
    key: "clock.cameraDriftSeconds",
    type: "number",
    default: "`5`",
    allowed: "1 to 3600",
    meaning:
      "Each ONVIF camera's clock (`cameras[].onvif.url`, GetSystemDateAndTime, asked every 10 minutes) is compared with the box's: further apart than this is a health warning on the camera (`cameras[].clock` in GET /api/health and the fleet's health) and a `camera-clock-drift` event, because recordings a camera stamps with a wrong time are poor evidence. To fix it, set the camera's NTP server to one the camera can reach (`cameras[].onvif.setNtp` does it for you): the box runs no NTP server of its own (systemd-timesyncd is only a client), so it cannot be the box.",
  },
  {
    key: "ntp.listen",
    type: "list of strings",
    default: "`[]`",
    allowed: '`"host:port"` each, at most 8',
    meaning:
      "The box's own SNTP server (RFC 4330) for its cameras, on these UDP listeners; `[]`: none. The image turns it on at `0.0.0.0:123` (the service has `CAP_NET_BIND_SERVICE`). It answers only plain client requests (48 bytes, mode 3, version 3 or 4) with an answer of the same size (no control or monlist modes), at most 8 at once and one every 2 s per source address (4096 addresses remembered) and 1000 a second in all. While the box's clock is not believed (`clock.trust`) it answers leap 3, stratum 0, kiss code `INIT` with no timestamps, so a box starting in 1970 never hands that time on; once believed, stratum 3 when systemd-timesyncd synced it, 10 for an RTC or `clock.trust: \"always\"`. Set only in the image or the local file: it opens a port.",
  },
  {
    key: "licence.keysFile",
    type: "string",
    default: '`"/usr/lib/nvr/licence-keys.json"`',
    allowed: "an absolute path",
    meaning:
      'The image\'s read-only licence policy: `{ "publicKeys": [{ "id", "publicKey" }], "graceDays": 14, "unlicensedCameras": 0 }` (each key a raw 32-byte Ed25519 public key in base64url; grace 0 to 365 days after expiry; 0 to 64 cameras that record without a usable licence). No file: licensing is off and every camera records (an open-source build). A file the daemon\'s user could write is not trusted: no key is, and only `unlicensedCameras` (0) record. Neither the fleet nor the API can change this key or the file.',
  },
  {
    key: "provision.file",
    type: "string",
    default: '`"/boot/efi/nvr-provision.json"`',
    allowed: "an absolute path",
    meaning:
      "The provisioning file, read once at start: fleet URL, fleet CA, bootstrap credential or claim token, time zone, NTP servers, setup code ([provisioning.md](provisioning.md)). A valid file goes into the identity store and is then overwritten and removed; a file with a bad field, or that others than its owner may read or write, is refused whole (every bad field named in the log) and left in place. `NVR_PROVISION_FILE` overrides it.",
  },
  {
    key: "provision.identityDir",
    type: "string",
    default: '`"/var/lib/nvr-state/identity"`',
    allowed: "an absolute path",
    meaning:
      "The identity store (folder 0700 on the `state` partition): device key (ECDSA P-256, 0600), its certificate, the fleet CA and the fleet URL. With `mqtt.url` `null` and an enrolled identity here, the fleet link uses it (mutual TLS as the box itself).",
  },
  {
    key: "provision.allowInsecure",
    type: "boolean",
    default: "`false`",
    allowed: "",
    meaning:
      "Accept `mqtt://`/`ws://` fleet URLs in the provisioning file. Tests only: it would send the bootstrap credential in the clear.",
  },
  {
    key: "cameras",
    type: "list",
    default: "`[]`",
    allowed: "at most 64",
    meaning: "The cameras to record.",
  },
  {
    key: "cameras[].id",
    type: "string",
    default: "required",
    allowed: "1–32 of `A-Z a-z 0-9 - _`",
    meaning: "Used in paths, topics and logs; unique.",
  },
  {
    key: "cameras[].name",
    type: "string",
    default: "the id",
    allowed: "not empty",
    meaning: "Shown on the page.",
  },
  {
    key: "cameras[].url",
    type: "string",
    default: "required",
    allowed: "a URL",
    meaning:
      "Where the stream comes from; the scheme picks the source: `rtsp:`, `rtsps:`, or `v4l2:` for a USB camera (`v4l2:///dev/video0`, better the stable `v4l2:///dev/v4l/by-id/usb-…-video-index0`; its formats are read with `v4l2-ctl` at start, package v4l-utils). An RTSP camera's audio (AAC, or G.711 encoded to Opus) is recorded with the video. A camera whose scheme is not supported is reported as failed and the other cameras go on.",
  },
  {
    key: "cameras[].enabled",
    type: "boolean",
    default: "`true`",
    allowed: "",
    meaning: "`false` keeps the camera configured but not recorded.",
  },
  {
    key: "cameras[].transport",
    type: "string",
    default: '`"tcp"`',
    allowed: "`tcp`, `udp`",
    meaning:
      "RTSP lower transport. TCP survives lossy Wi-Fi; UDP has less latency but needs the camera's UDP packets to reach the NVR (no NAT or firewall in between).",
  },
  {
    key: "cameras[].codec",
    type: "string",
    default: '`"h265"`',
    allowed: "`h265`, `h264`",
    meaning:
      "What an RTSP camera sends; H.265 is recorded as it comes, without re-encoding. Not used for USB cameras (their capture mode decides).",
  },
  {
    key: "cameras[].username",
    type: "string or null",
    default: "`null`",
    allowed: "",
    meaning: "RTSP credentials when they are not in the URL.",
  },
  {
    key: "cameras[].password",
    type: "string or null",
    default: "`null`",
    allowed: "",
    meaning: "",
  },
  {
    key: "cameras[].retentionDays",
    type: "number or null",
    default: "`null`",
    allowed: "0.01 to 3650, or `null`",
    meaning:
      "This camera's maximum age in days, overriding `storage.retentionDays`; `null` uses `storage.retentionDays`.",
  },
  {
    key: "cameras[].eventRetentionExtraDays",
    type: "number or absent",
    default: "absent",
    allowed: "0.01 to 3650, or `null`",
    meaning:
      "Segments in which the camera raised an event of its own (ONVIF motion, digital input, tampering, …: kind `camera-event` in the index, an event falling inside the segment) are kept this many days longer than the camera's retention (`retentionDays`, else `storage.retentionDays`); e.g. 14 and 16: everything for two weeks, what had motion for a month. Needs `onvif` (the events come from it). The byte budget and the free-space minimum still take the oldest segments first, events or not. A motion that lasts across several segments marks only the segments where it started and ended. Plugin alarms: `keepMinutes`.",
  },
  {
    key: "cameras[].record",
    type: "object or absent",
    default: "absent (continuous)",
    allowed: '`{ "mode", "preRollSeconds"?, "postRollSeconds"? }`',
    meaning:
      "When the camera is recorded; absent: continuously. The fleet may change it like every camera field (`cameras` is on the remote allowlist: it is a recording policy like `retentionDays`). How events mode works, with its limits: [recording.md](recording.md#recording-only-around-events).",
  },
  {
    key: "cameras[].record.mode",
    type: "string",
    default: '`"continuous"`',
    allowed: "`continuous`, `events`",
    meaning:
      "`events`: only around the camera's events (its ONVIF events, and alarms of plugins whose `cameras` list it); nothing is written while none is on. The segment starts at a keyframe at least `preRollSeconds` before the event (held in memory, at most 32 MiB) and ends `postRollSeconds` after the last one. Health shows `record.now` (`waiting for an event`, `recording (event)`). Needs the built-in recorder: refused for USB (`v4l2:`) cameras and with `recording.remux` `gstreamer`; a camera GStreamer records anyway (re-encoded) records continuously, and health says so.",
  },
  {
    key: "cameras[].record.preRollSeconds",
    type: "number",
    default: "`5`",
    allowed: "0 to 30",
    meaning:
      "`events` mode: seconds before an event that its recording starts, held in memory as whole GOPs (with a 4 s GOP and 5 s: 5 to 9 s are held).",
  },
  {
    key: "cameras[].record.postRollSeconds",
    type: "number",
    default: "`30`",
    allowed: "0 to 600",
    meaning: "`events` mode: seconds after the last event that its recording ends.",
  },
  {
    key: "cameras[].subUrl",
    type: "string or null",
    default: "`null`",
    allowed: "an `rtsp:` or `rtsps:` URL",
    meaning:
      "The camera's H.264 sub-stream (e.g. 640x360), shown live on the web page as fragmented MP4 (`/api/cameras/<id>/live.mp4`, no re-encoding). `null`: the page refreshes a JPEG snapshot once a second. Credentials as for `url`: in the URL.",
  },
  {
    key: "cameras[].caFile",
    type: "string or absent",
    default: "absent",
    allowed: "an absolute path; `rtsps:` cameras",
    meaning:
      "PEM file with the CA that signed an `rtsps://` camera's certificate (or the camera's own self-signed certificate), trusted besides the system's roots for the camera's recording session (the sub-stream and the GStreamer path use the system's roots only). Without it a certificate that does not chain to a system root is refused with a message saying so; no certificate is ever accepted unchecked.",
  },
  {
    key: "cameras[].width",
    also: ["height"],
    type: "number",
    default: "up to 1920×1080",
    allowed: "16 to 7680, 16 to 4320",
    meaning:
      "USB cameras only: the largest capture size taken from the camera's modes (MJPEG from 1280×720 up, raw below). An RTSP camera's size is set in the camera.",
  },
  {
    key: "cameras[].fps",
    type: "number",
    default: "up to 30",
    allowed: "1 to 120",
    meaning:
      "USB cameras only: the highest frame rate taken; modes under 15 fps are used only when nothing else is offered.",
  },
  {
    key: "cameras[].onvif",
    type: "object or absent",
    default: "absent",
    allowed: '`{ "url", "username"?, "password"? }`',
    meaning:
      "The camera's ONVIF device service (`http:` or `https:` URL, e.g. `http://192.168.1.20/onvif/device_service`). The fingerprint reads the camera's vendor, model, serial, firmware and MAC from it (docs/fleet-data.md). Filled in when a camera is added by its ONVIF address or from discovery (`POST /api/cameras/discover`), or, for a camera added by RTSP URL, linked from discovery's `withoutOnvif` (the device found at its host; \"Link\" in Find cameras).",
  },
  {
    key: "cameras[].onvif.username",
    also: ["password"],
    type: "string or null",
    default: "`null`",
    allowed: "",
    meaning:
      "ONVIF credentials; `null`: the camera's `username` and `password`. The password is never sent to the fleet (redacted like the others).",
  },
  {
    key: "cameras[].onvif.setNtp",
    type: "string or absent",
    default: "absent",
    allowed: 'a host name or IP address, `"box"`, or `null`',
    meaning:
      "Opt-in: when the clock check (`clock.cameraDriftSeconds`) finds this camera's clock too far off and the box's own clock is synced, the box sets the camera's NTP server to this host (ONVIF SetNTP, DHCP off, with the ONVIF credentials) once per drift, audited as `camera.set-ntp`; the warning clears at the next check once the camera has synced. `\"box\"`: the box's own NTP server, at the box's address on the route to this camera (the local address of a connection to the camera's ONVIF port, never a fixed IP); refused when `ntp.listen` is empty, and the SetNTP fails (audited) when no listener covers that address. Cameras ask port 123. Absent, the camera's clock is only checked.",
  },
  {
    key: "plugins.<id>.enabled",
    type: "boolean",
    default: "`false`",
    allowed: "",
    meaning:
      "Runs the sensor plugin installed in `<dataDir>/plugins/<id>/` (installed from the page, `POST /api/plugins`, or the fleet command `plugin`), each in its own sandboxed process; see [plugins/README.md](../plugins/README.md). An entry for a plugin that is not installed is kept and waits for it.",
  },
  {
    key: "plugins.<id>.settings",
    type: "object",
    default: "`{}`",
    allowed: "name → number, string (≤ 200) or boolean; ≤ 32",
    meaning:
      "The plugin's settings, checked against the schema in its `plugin.json` when applied (a bad or unknown setting is refused, naming the plugin and the setting); settings left out take the schema's defaults.",
  },
  {
    key: "plugins.<id>.cameras",
    type: "list of strings",
    default: "`[]`",
    allowed: "ids from `cameras`; ≤ 64",
    meaning:
      "Cameras the plugin's alarms concern: each `sensor-alarm` is marked on their timelines only (without cameras: on every camera's timeline).",
  },
  {
    key: "plugins.<id>.keepMinutes",
    type: "integer",
    default: "`0`",
    allowed: "0–1440; needs `cameras`",
    meaning:
      "Keeps those cameras' recordings from this many minutes before each alarm to as many after it, like an operator's keep (retention never deletes them; release them on the camera page). Recordings made after the alarm are kept as they close, also across a restart. 0: mark only. Not `cameras[].eventRetentionExtraDays`: an alarm does not extend that; this lock outlasts age, budget and free space.",
  },
];

/** The markdown table of docs/config.md, "Keys". */
export function keysTable(): string {
  const head = ["key", "type", "default", "allowed", "meaning"];
  const rows = KEY_DOCS.map((d) => [
    [d.key, ...(d.also ?? [])].map((k) => `\`${k}\``).join(", "),
    d.type,
    d.default,
    d.allowed,
    d.meaning,
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A key's row: `storage.retentionDays`, `cameras[].record.mode`, `plugins.<id>.enabled`. */
export function keyDoc(key: string): KeyDoc | undefined {
  return KEY_DOCS.find((d) => d.key === key || d.also?.some((a) => siblingKey(d.key, a) === key));
}

/** `height` beside `cameras[].width` is `cameras[].height`. */
function siblingKey(key: string, also: string): string {
  const dot = key.lastIndexOf(".");
  return dot < 0 ? also : key.slice(0, dot + 1) + also;
}

/**
 * The first sentence of a key's meaning as plain text (no backticks, links as their text), for a
 * one-line description on the page.
 */
export function oneLine(meaning: string): string {
  const plain = meaning.replace(/\[([^\]]+)\]\([^)]*\)/g, "$1").replace(/`/g, "");
  // A sentence ends at . ! or ? and a space, but not at "e.g." or "i.e.".
  const end = /(?<!\b(?:e\.g|i\.e))[.!?](\s|$)/.exec(plain);
  return end ? plain.slice(0, end.index + 1) : plain;
}
