/** Errors raised by the GStreamer binding. Each says which pipeline and what to check next. */

/** gst_parse_launch refused the description (unknown element, bad property, no link). */
export class PipelineParseError extends Error {
  readonly pipeline: string;
  readonly description: string;
  constructor(pipeline: string, description: string, detail: string) {
    super(`Cannot build pipeline '${pipeline}': ${detail}`);
    this.name = "PipelineParseError";
    this.pipeline = pipeline;
    this.description = description;
  }
}

/** A state change failed; `detail` carries the first error message on the bus, when any. */
export class PipelineStateError extends Error {
  readonly pipeline: string;
  constructor(pipeline: string, detail: string) {
    super(`Pipeline '${pipeline}' failed to start: ${detail}`);
    this.name = "PipelineStateError";
    this.pipeline = pipeline;
  }
}

/** A method was called on a pipeline that was already closed. */
export class PipelineClosedError extends Error {
  constructor(pipeline: string) {
    super(`Pipeline '${pipeline}' is closed`);
    this.name = "PipelineClosedError";
  }
}
