/** The recorder: one supervised pipeline per camera, segments into the index. */
export type { CameraState, CameraStatus } from "./camera_status.ts";
export {
  CameraAudioStallError,
  CameraPipelineError,
  CameraStallError,
  recordCamera,
  type RecorderContext,
} from "./camera_recorder.ts";
export {
  BACKOFF_MS,
  CameraSupervisor,
  type SupervisorContext,
  type SupervisorOptions,
} from "./supervisor.ts";
export { type CameraStats, EMPTY_STATS } from "./camera_stats.ts";
export { salvageIncoming, type SalvageResult } from "./salvage.ts";
export { snapshotJpeg, SnapshotUnavailableError } from "./snapshot.ts";
export {
  redactUrl,
  sourceDescription,
  SUPPORTED_SCHEMES,
  UnsupportedSourceError,
} from "./source.ts";
export { recordingPipeline } from "./recording_pipeline.ts";
export {
  type PlannedCamera,
  type Recorders,
  RecorderSet,
  UnknownCameraError,
} from "./recorder_set.ts";
export { groupCameras, WorkerPool, type WorkerPoolDeps } from "./worker_pool.ts";
export { type AudioPlan, type AudioProbe, planAudio, probeAudio } from "./audio.ts";
export { planSource, readSourceFormats, type SourcePlan, SourcePlanError } from "./source.ts";
