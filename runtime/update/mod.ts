/** OTA updates over the fleet channel (issue 13): download, RAUC, the trial boot's health gate. */
export { type BundleRef, downloadBundle, DownloadError } from "./download.ts";
export { type GateProbe, type GateTiming, runHealthGate } from "./gate.ts";
export { checkBundle, type Rauc, raucCli, RaucError } from "./rauc.ts";
export { Updater, type UpdaterDeps } from "./updater.ts";
export { nextWindowStart, windowProblem } from "./window.ts";
export { readBootId, readCompatible } from "./system.ts";
