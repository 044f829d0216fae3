/** The project's typed GStreamer binding (Deno FFI to libgstreamer-1.0). */
export { GstUnavailableError, openGst } from "./ffi.ts";
export { hasElementFactory, Pipeline, type PipelineOptions } from "./pipeline.ts";
export { PipelineClosedError, PipelineParseError, PipelineStateError } from "./errors.ts";
export * from "./messages.ts";
export {
  type CapsInfo,
  Element,
  parseStructureFields,
  PropertyError,
  type PropertyValue,
  type Sample,
  type StructureFields,
} from "./element.ts";
