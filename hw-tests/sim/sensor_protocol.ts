/**
 * The virtual sensor's line protocol. It lives with the plugin that reads it
 * (plugins/serial-sensor/protocol.ts: a plugin may import only its own files),
 * so the simulator, its tests and the plugin share one parser and formatter.
 *
 * @module
 */
export * from "../../plugins/serial-sensor/protocol.ts";
