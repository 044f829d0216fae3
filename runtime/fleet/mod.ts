/** The fleet link over MQTT: start it with startFleetLink; the protocol is in schema.ts. */
export {
  canonicalJson,
  DEFAULT_TIMING,
  type FleetLink,
  type FleetLinkDeps,
  FleetLinkError,
  type FleetStatus,
  type FleetTiming,
  startFleetLink,
} from "./link.ts";
export * from "./schema.ts";
export { DurableQueue, type MessageClass, QueueError, type QueueStats } from "./queue.ts";
export { redactConfig, REDACTED } from "./redact.ts";
