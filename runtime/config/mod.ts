/** Configuration: types, validation and loading. */
export type * from "./types.ts";
export { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";
export { configPath, ENV_OVERRIDES, type Env, loadConfig } from "./load.ts";
export { parseDurationSeconds } from "./duration.ts";
