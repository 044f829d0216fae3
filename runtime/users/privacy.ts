/**
 * The privacy notice people accept when they register (first-run setup, invitation). Its
 * version is stored with the account beside the time of acceptance; a changed text gets a new
 * version.
 */
export const PRIVACY_NOTICE = {
  version: "2026-12-1",
  text: "This recorder keeps your name and email (and the phone and Telegram handle you add) to " +
    "run your account, and, for security, the address and browser of your sign-ins (kept " +
    "90 days unless configured otherwise; those of suspicious sign-ins as long as the audit " +
    "log) and an audit log of what you do. The fleet manager sees a pseudonym, never your " +
    "name. You can export or delete your data on your profile page.",
} as const;
