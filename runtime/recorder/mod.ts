/** The recorder: one supervised pipeline per camera, segments into the index. */
export type { CameraState, CameraStatus } from "./camera_status.ts";
export { CameraPipelineError, recordCamera, type RecorderContext } from "./camera_recorder.ts";
export { BACKOFF_MS, CameraSupervisor, type SupervisorOptions } from "./supervisor.ts";
export {
  redactUrl,
  sourceDescription,
  SUPPORTED_SCHEMES,
  UnsupportedSourceError,
} from "./source.ts";
export { recordingPipeline } from "./recording_pipeline.ts";
