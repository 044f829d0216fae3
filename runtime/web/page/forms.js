// @ts-check
// Forms: submit handling with failures shown, and the account fields that setup and Users share.

import { h, notice } from "./dom.js";

/**
 * A form's fields by name (the page's forms have no file inputs, so every value is text).
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function formValues(form) {
  return /** @type {Record<string, string>} */ (Object.fromEntries(new FormData(form).entries()));
}

/**
 * Runs a form's submit handler with its button disabled, and shows any failure (focusing the
 * field the API named).
 * @param {HTMLFormElement} form
 * @param {(values: Record<string, string>) => Promise<unknown>} fn
 */
export function handleSubmit(form, fn) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    /** @type {HTMLButtonElement | null} */
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await fn(formValues(form));
    } catch (e) {
      const err = /** @type {import("./api.js").Failure} */ (e);
      notice(err.message, "error");
      const field = err.field ? form.elements.namedItem(err.field) : null;
      if (field instanceof HTMLElement) field.focus();
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/**
 * Name, email and a new password: the fields of first-run setup and of adding a user.
 * @param {string} nameComplete the name field's autocomplete
 * @param {string} emailComplete the email field's autocomplete
 * @returns {HTMLLabelElement[]}
 */
export function accountFields(nameComplete, emailComplete) {
  return [
    h(
      "label",
      {},
      "Name",
      h("input", { name: "name", required: true, autocomplete: nameComplete }),
    ),
    h(
      "label",
      {},
      "Email",
      h("input", { name: "email", type: "email", required: true, autocomplete: emailComplete }),
    ),
    h(
      "label",
      {},
      "Password (at least 10 characters)",
      h("input", {
        name: "password",
        type: "password",
        required: true,
        minlength: "10",
        autocomplete: "new-password",
      }),
    ),
  ];
}
