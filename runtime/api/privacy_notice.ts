/** Registration (setup, invitation) needs the privacy notice accepted: `acceptPrivacyNotice`. */
import { PRIVACY_NOTICE } from "../users/privacy.ts";
import { FieldError } from "../users/validate.ts";

/** The accepted notice's version, or a 400 naming the field. */
export function acceptedPrivacy(body: Record<string, unknown>): string {
  if (body.acceptPrivacyNotice !== true) {
    throw new FieldError(
      "acceptPrivacyNotice",
      "must be true: read the privacy notice (GET /api/setup shows it) and accept it to register",
    );
  }
  return PRIVACY_NOTICE.version;
}
