/** The plugin host's public face: install, run and supervise sandboxed sensor plugins. */
export {
  PluginHost,
  type PluginHostOptions,
  type PluginSetting,
  type PluginStatus,
} from "./plugin_host.ts";
export { type Limits } from "./plugin_process.ts";
export { type Manifest, ManifestError, parseManifest, resolveSettings } from "./manifest.ts";
export {
  ArchiveError,
  installFromArchive,
  installFromFolder,
  readInstalled,
  removePlugin,
  sha256Hex,
} from "./install.ts";
export { PluginCodeError } from "./code_check.ts";
export { noSerial, type SerialOpener, serialOpener, type SerialPortLike } from "./serial_relay.ts";
