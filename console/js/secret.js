// The team's webhook signing secret on the API keys page: reveal it (each reveal is audited,
// so it is never fetched without a click), rotate it with an overlap during which deliveries
// carry both signatures, and revoke the previous one. Shown to webhooks:read, webhooks:write and
// admin; the rotate and revoke controls to webhooks:write and admin only. The secret lives in the
// page only while shown: Hide, a team switch or sign-out wipes it.

import { api } from "./api.js";
import { announce, byId, confirmAction, copyButton, h, hideMessage, showMessage, time } from "./dom.js";
import { formatDate, relativeTime } from "./format.js";

let wired = false;

/** Shows or hides the section for the signed-in caller and the chosen team. */
export function renderSigningSecret(ctx) {
  const scopes = ctx.session.scopes;
  const canRead = ctx.isAdmin || scopes.has("webhooks:read") || scopes.has("webhooks:write");
  const canWrite = ctx.isAdmin || scopes.has("webhooks:write");
  const section = byId("signing-secret");
  section.hidden = !canRead;
  if (!wired) wire(ctx);
  forget();
  hideMessage(byId("signing-secret-message"));
  for (const control of section.querySelectorAll("[data-write]")) control.hidden = !canWrite;
  byId("signing-secret-revoke").hidden = true;
}

function wire(ctx) {
  wired = true;
  byId("signing-secret-reveal").addEventListener("click", () => run(() => reveal(ctx)));
  byId("signing-secret-hide").addEventListener("click", forget);
  byId("signing-secret-rotate").addEventListener("click", () => confirmRotate(ctx));
  byId("signing-secret-revoke").addEventListener("click", () => confirmRevoke(ctx));
}

function path(ctx, rest = "") {
  return `/api/teams/${encodeURIComponent(ctx.team)}/webhook-secret${rest}`;
}

async function run(action) {
  const message = byId("signing-secret-message");
  hideMessage(message);
  try {
    await action();
  } catch (error) {
    showMessage(message, error.message);
  }
}

async function reveal(ctx) {
  show(ctx, await api("GET", path(ctx)));
  announce("Signing secret revealed.");
}

/** Puts a secret view (GET or rotate answer) on screen. */
function show(ctx, view) {
  byId("signing-secret-values").hidden = false;
  byId("signing-secret-current").textContent = view.secret;
  const copy = copyButton(view.secret, "signing secret");
  copy.id = "copy-signing-secret";
  byId("copy-signing-secret").replaceWith(copy);
  const previous = Boolean(view.previous_secret);
  byId("signing-secret-previous-term").hidden = !previous;
  const cell = byId("signing-secret-previous");
  cell.hidden = !previous;
  cell.replaceChildren(...(previous
    ? [h("code", {}, view.previous_secret), " ", copyButton(view.previous_secret, "previous signing secret"),
      h("small", {}, " also signs until ", time(view.previous_until, formatDate(view.previous_until)),
        ` (${relativeTime(view.previous_until, Date.now())})`)]
    : []));
  const canWrite = !byId("signing-secret-rotate").hidden;
  byId("signing-secret-revoke").hidden = !(previous && canWrite);
  byId("signing-secret-reveal").hidden = true;
  byId("signing-secret-hide").hidden = false;
}

/** Takes the secrets off the page. */
function forget() {
  byId("signing-secret-values").hidden = true;
  byId("signing-secret-current").textContent = "";
  byId("signing-secret-previous").replaceChildren();
  const copy = copyButton("", "signing secret");
  copy.id = "copy-signing-secret";
  byId("copy-signing-secret").replaceWith(copy);
  byId("signing-secret-reveal").hidden = false;
  byId("signing-secret-hide").hidden = true;
}

function confirmRotate(ctx) {
  const select = byId("signing-secret-overlap");
  const overlap = select.value;
  const during = select.selectedOptions[0]?.textContent ?? overlap;
  const text = overlap === "0s"
    ? ["A new secret signs every webhook from now on, and the current one stops at once.",
      "Receivers that still hold the current secret will reject deliveries until they are updated."]
    : [`A new secret signs every webhook from now on. For ${during}, each delivery also carries a signature made with the current secret, so receivers holding either one accept it.`,
      "Update your servers to the new secret within that time, then revoke the previous one."];
  confirmAction({
    title: "Rotate the signing secret?",
    text,
    action: "Rotate",
    run: async () => {
      show(ctx, await api("POST", path(ctx, "/rotate"), { overlap }));
      announce("Signing secret rotated. The new secret is shown.");
    },
  });
}

function confirmRevoke(ctx) {
  confirmAction({
    title: "Revoke the previous signing secret?",
    text: ["Deliveries from now on carry the current secret's signature only.",
      "Receivers still holding the previous secret will reject them."],
    action: "Revoke",
    run: async () => {
      await api("DELETE", path(ctx, "/previous"));
      byId("signing-secret-previous-term").hidden = true;
      byId("signing-secret-previous").hidden = true;
      byId("signing-secret-previous").replaceChildren();
      byId("signing-secret-revoke").hidden = true;
      announce("Previous signing secret revoked.");
    },
  });
}
