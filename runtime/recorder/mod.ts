/** The recorder: one supervised pipeline per camera, segments into the index. */
export type { CameraState, CameraStatus } from "./supervisor/camera_status.ts";
export {
  CameraStallError,
  chooseEngine,
  type EngineName,
  type RecordCamera,
  type RecorderContext,
} from "./engine.ts";
export {
  CameraAudioStallError,
  CameraPipelineError,
  recordCamera,
} from "./gstreamer/gst_recorder.ts";
export {
  BACKOFF_MS,
  CameraSupervisor,
  type SupervisorContext,
  type SupervisorOptions,
} from "./supervisor/supervisor.ts";
export { type CameraStats, EMPTY_STATS } from "./supervisor/camera_stats.ts";
export { salvageIncoming, type SalvageResult } from "./supervisor/salvage.ts";
export { snapshotJpeg, SnapshotUnavailableError } from "./snapshot.ts";
export { sourceDescription, SUPPORTED_SCHEMES, UnsupportedSourceError } from "./source.ts";
export { recordingPipeline } from "./gstreamer/recording_pipeline.ts";
export {
  type PlannedCamera,
  type Recorders,
  RecorderSet,
  UnknownCameraError,
} from "./supervisor/recorder_set.ts";
export { groupCameras, WorkerPool, type WorkerPoolDeps } from "./workers/worker_pool.ts";
export { type AudioPlan, type AudioProbe, planAudio, probeAudio } from "./gstreamer/audio.ts";
export { planSource, readSourceFormats, type SourcePlan, SourcePlanError } from "./source.ts";
