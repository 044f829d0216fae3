// @ts-check
// The shapes of the API's answers that the page reads (types only: nothing here runs). Fields the
// page does not read are left out; the API may send more.

/** @typedef {"admin" | "operator" | "viewer"} Role */

/**
 * The signed-in user (GET /api/me) or a row of GET /api/users.
 * @typedef {object} User
 * @property {number} id
 * @property {string} name
 * @property {string} email
 * @property {Role} role
 * @property {string[]} cameras
 * @property {boolean} [disabled]
 * @property {string | null} [surname]
 * @property {string | null} [patronymic]
 * @property {string | null} [phone]
 * @property {string | null} [telegram]
 */

/**
 * A camera of GET /api/cameras.
 * @typedef {object} Camera
 * @property {string} id
 * @property {boolean} [live] an H.264 sub-stream plays as live video
 * @property {boolean} [liveWs] the board restreams it over live.ws (WebSocket + MSE)
 * @property {boolean} [ptz] it may pan/tilt/zoom (an ONVIF address, not found without PTZ)
 * @property {string} state
 * @property {{ fpsIn: number, bitrateKbps: number }} stats
 */

/**
 * A recording of GET /api/recordings.
 * @typedef {object} Segment
 * @property {number} id
 * @property {number} startMs
 * @property {number} endMs
 * @property {string} codec
 * @property {number | null} [width]
 * @property {number | null} [height]
 * @property {number} bytes
 * @property {boolean} [locked]
 * @property {"synced" | "unsynced"} [clock] "unsynced": recorded before the clock was set (time unknown)
 */

/**
 * A camera in GET /api/health.
 * @typedef {object} CameraHealth
 * @property {string} id
 * @property {string} state
 * @property {string} codec
 * @property {string} mode
 * @property {number | null} [fps]
 * @property {number | null} [bitrateKbps]
 * @property {string | null} [lastError]
 * @property {{ state: string, error: string | null }} [events] ONVIF events, when it has an address
 * @property {{ driftMs: number | null, warning: string | null }} [clock] its clock against the box's
 */

/**
 * A disk in GET /api/health.
 * @typedef {object} DiskHealth
 * @property {string} label
 * @property {string} path
 * @property {number | null} usedPercent
 * @property {number | null} [availableBytes]
 * @property {number | null} [totalBytes]
 * @property {string} [error]
 */

/**
 * GET /api/health.
 * @typedef {object} Health
 * @property {{ usedPercent?: number | null }} [cpu]
 * @property {{ usedPercent?: number | null, usedBytes: number, totalBytes: number }} [memory]
 * @property {number | null} [cpuTemperatureC]
 * @property {{ type: string, celsius: number }[]} [temperatures]
 * @property {{ one: number, five: number, fifteen: number }} [load]
 * @property {number} [uptimeSeconds]
 * @property {DiskHealth[]} [disks]
 * @property {CameraHealth[]} cameras
 */

/**
 * An event of the stream GET /api/events.
 * @typedef {object} NvrEvent
 * @property {number} id
 * @property {number} tsMs
 * @property {string} kind
 * @property {string | null} [camera]
 * @property {unknown} [detail]
 */

/**
 * An entry of GET /api/audit.
 * @typedef {object} AuditEntry
 * @property {number} tsMs
 * @property {number | null} userId
 * @property {string | null} [userName]
 * @property {string} action
 * @property {string} [target]
 * @property {string} ip
 * @property {string} userAgent
 * @property {string} outcome
 */

/**
 * A notice the user accepts (privacy at setup, analytics consent).
 * @typedef {object} Notice
 * @property {string} text
 * @property {string} version
 */

/**
 * A setting in a plugin's schema (its plugin.json `settings`).
 * @typedef {object} SettingSpec
 * @property {"number" | "string" | "boolean"} type
 * @property {number | string | boolean} [default]
 * @property {number} [min]
 * @property {number} [max]
 * @property {number} [maxLength]
 * @property {string} [description]
 */

/**
 * An installed plugin of GET /api/plugins.
 * @typedef {object} Plugin
 * @property {string} id
 * @property {string} name
 * @property {string} version
 * @property {string} state starting, running, retrying, failed, disabled or stopped
 * @property {string | null} lastError
 * @property {number} restarts
 * @property {{ name: string, value: number | string | boolean, unit: string, tsMs: number }[]} readings
 * @property {number | null} [cpuPercent]
 * @property {number | null} [rssBytes]
 * @property {boolean} enabled
 * @property {Record<string, string | number | boolean>} settings
 * @property {string[]} cameras the cameras its alarms are marked on (none: every camera)
 * @property {number} keepMinutes recordings kept this long before and after each alarm
 * @property {Record<string, SettingSpec>} schema
 */

export {};
