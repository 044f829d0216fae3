/**
 * Board profiles and the per-camera video plan: which board this is (detect), what it can encode
 * and decode (profile), what GStreamer really has (registry, smoke test), and per camera whether
 * to record as it comes or decode and encode, and with what (video_plan, v4l2_source).
 */
export {
  BOARD_IDS,
  type BoardId,
  type BoardInfo,
  type BoardRoots,
  DEFAULT_ROOTS,
  detectBoard,
} from "./detect.ts";
export {
  type BoardProfile,
  type DecodedCodec,
  type DecoderSpec,
  type EncodedCodec,
  type EncoderSpec,
  fillTemplate,
  loadProfile,
  ProfileError,
  type TranscodeCapacity,
} from "./profile.ts";
export {
  type ElementRegistry,
  fragmentElements,
  GstRegistry,
  ListRegistry,
  loadRegistryFiles,
  parseRegistryList,
  probeRegistry,
  profileElements,
} from "./registry.ts";
export {
  EncoderSmokeTests,
  type SmokeOptions,
  type SmokeResult,
  smokeTestEncoder,
} from "./encoder_smoke.ts";
export {
  ASSUMED_FPS,
  defaultBitrateKbps,
  ENCODE_FALLBACKS,
  type EncodeFallback,
  joinLaunch,
  KEYFRAME_SECONDS,
  keyframeInterval,
  type PlanMode,
  planVideo,
  type SourceCodec,
  type VideoInput,
  type VideoPlan,
  VideoPlanError,
} from "./video_plan.ts";
export {
  type CaptureChoice,
  type CaptureLimits,
  chooseCapture,
  discoverV4l2Devices,
  fpsFraction,
  parseV4l2Formats,
  readV4l2Formats,
  usbCameraLaunch,
  type UsbCameraOptions,
  type V4l2Device,
  V4l2FormatError,
  type V4l2Mode,
  v4l2SourceLaunch,
} from "./v4l2_source.ts";
