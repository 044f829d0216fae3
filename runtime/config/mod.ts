/** Configuration: types, validation and loading. */
export type * from "./types.ts";
export { ConfigError, DEFAULT_CONFIG, validateConfig } from "./validate.ts";
export { configPath, type Env, ENV_OVERRIDES, loadConfig } from "./load.ts";
export { parseDurationSeconds } from "./duration.ts";
export { ConfigStore, writeConfigFile } from "./store.ts";
export { REMOTE_KEYS, remoteConfig } from "./remote_keys.ts";
