// The API keys page: the team's keys, the "New API key" dialog (its secret shown once), and
// "Delete" with a confirmation. Create and delete controls appear only for keys:write or admin;
// the API refuses them to anyone else regardless.

import { api } from "./api.js";
import { announce, badge, byId, confirmAction, copyButton, h, hideMessage, openDialog, showMessage, table, time } from "./dom.js";
import { renderSigningSecret } from "./secret.js";
import { ROTATE_AFTER_DAYS, ageInDays, describeAge, formatDate, isRotationCandidate, relativeTime } from "./format.js";

const PAGE_SIZE = 50;
let shown = [];
let nextCursor = null;

/** Wires the page's buttons and the dialog once. */
export function setUpKeys(ctx) {
  byId("new-key").addEventListener("click", () => openNewKey(ctx));
  byId("new-key-form").addEventListener("submit", (event) => createKey(event, ctx));
  byId("keys-more").addEventListener("click", () => loadKeys(ctx, nextCursor));
  byId("new-key-dialog").addEventListener("close", resetNewKey);
}

/** Shows the team's keys. */
export async function renderKeys(ctx) {
  byId("keys-team").textContent = `Team ${ctx.team}. Each key is a Client ID and a Client secret; the secret is shown once, when the key is created.`;
  byId("new-key").hidden = !ctx.canWrite;
  await loadKeys(ctx, null);
  renderSigningSecret(ctx);
}

async function loadKeys(ctx, cursor) {
  const message = byId("keys-message");
  hideMessage(message);
  const team = encodeURIComponent(ctx.team);
  const query = `limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
  try {
    const page = await api("GET", `/api/teams/${team}/keys?${query}`);
    shown = cursor ? shown.concat(page.items) : page.items;
    nextCursor = page.next_cursor;
  } catch (error) {
    shown = [];
    nextCursor = null;
    showMessage(message, error.message);
  }
  byId("keys-more").hidden = !nextCursor;
  drawKeys(ctx);
}

function drawKeys(ctx) {
  const list = byId("keys-list");
  if (shown.length === 0) {
    list.replaceChildren(h("p", { class: "empty" }, ctx.canWrite
      ? "This team has no API keys yet. Create one with New API key."
      : "This team has no API keys yet."));
    return;
  }
  const now = Date.now();
  const columns = [
    { label: "Label", cell: (k) => h("strong", {}, k.label) },
    { label: "Client ID", class: "id", cell: (k) => h("span", { class: "copyable" }, h("code", {}, k.client_id), copyButton(k.client_id, `Client ID ${k.client_id}`)) },
    { label: "Env", cell: (k) => badge(k.env, k.env) },
    { label: "Scopes", cell: (k) => h("span", { class: "scopes" }, k.scopes.map((s) => h("code", {}, s))) },
    { label: "Created", class: "nowrap", cell: (k) => time(k.created_at, formatDate(k.created_at)) },
    { label: "Last used", cell: (k) => k.last_used_at ? time(k.last_used_at, relativeTime(k.last_used_at, now)) : "never" },
    { label: "Expires", cell: (k) => k.expires_at
      ? h("span", { class: "stack" }, time(k.expires_at, formatDate(k.expires_at)), h("small", {}, relativeTime(k.expires_at, now)))
      : "never" },
    { label: "Age", cell: (k) => ageCell(k, now) },
  ];
  if (ctx.canWrite) {
    columns.push({ label: "Actions", class: "actions-cell", cell: (k) =>
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${k.label} (${k.client_id})`, onclick: () => confirmDelete(ctx, k) }, "Delete") });
  }
  list.replaceChildren(table(columns, shown, `API keys of team ${ctx.team}`));
}

function ageCell(key, now) {
  const days = ageInDays(key.created_at, now);
  const age = describeAge(days);
  if (!isRotationCandidate(key.created_at, now)) return age;
  return h("span", { class: "age" }, age, " ",
    badge("Rotate", "warn"),
    h("span", { class: "visually-hidden" }, ` older than ${ROTATE_AFTER_DAYS} days: a candidate for rotation`));
}

function openNewKey(ctx) {
  resetNewKey();
  const fieldset = byId("new-key-scopes");
  fieldset.replaceChildren(fieldset.querySelector("legend") || h("legend", {}, "Scopes"),
    ...ctx.meta.catalog.map((scope) => scopeBox(scope, true)));
  // Management scopes the caller may give: a key can never give more than it holds.
  const grantable = ctx.meta.management.filter((s) => ctx.isAdmin || (s !== "admin" && ctx.session.scopes.has(s)));
  const management = byId("new-key-management");
  management.querySelectorAll("label").forEach((l) => l.remove());
  management.append(...grantable.map((scope) => scopeBox(scope, false)));
  management.hidden = grantable.length === 0;
  openDialog(byId("new-key-dialog"));
  byId("new-key-label").focus();
}

function scopeBox(scope, checked) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", value: scope, checked, "data-scope": true }), " ", h("code", {}, scope));
}

async function createKey(event, ctx) {
  event.preventDefault();
  const message = byId("new-key-message");
  hideMessage(message);
  const label = byId("new-key-label").value.trim();
  const scopes = [...byId("new-key-dialog").querySelectorAll("input[data-scope]:checked")].map((i) => i.value);
  if (!label) return showMessage(message, "Give the key a label, such as production-server.");
  // An empty list would mean "the whole catalog" to the API: ask for at least one instead.
  if (scopes.length === 0) return showMessage(message, "Choose at least one scope.");
  const body = { label, scopes, test: byId("new-key-test").checked };
  const expiry = byId("new-key-expiry").value;
  if (expiry) body.expires_in = expiry;
  const submit = event.submitter || event.target.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const created = await api("POST", `/api/teams/${encodeURIComponent(ctx.team)}/keys`, body);
    showCreated(created);
    await loadKeys(ctx, null);
  } catch (error) {
    showMessage(message, error.message);
  } finally {
    submit.disabled = false;
  }
}

/** The one time the secret is on screen; resetNewKey wipes it when the dialog closes. */
function showCreated(created) {
  byId("new-key-form").hidden = true;
  byId("new-key-created").hidden = false;
  byId("created-client-id").textContent = created.client_id;
  byId("created-client-secret").textContent = created.client_secret;
  replaceCopy("copy-created-id", created.client_id, "Client ID");
  replaceCopy("copy-created-secret", created.client_secret, "Client secret");
  byId("new-key-created-title").focus();
  announce(`API key ${created.label} created. Copy the Client secret now: it will not be shown again.`);
}

function replaceCopy(id, text, what) {
  const button = copyButton(text, what);
  button.id = id;
  byId(id).replaceWith(button);
}

function resetNewKey() {
  byId("new-key-form").reset();
  byId("new-key-form").hidden = false;
  byId("new-key-created").hidden = true;
  byId("created-client-id").textContent = "";
  byId("created-client-secret").textContent = "";
  replaceCopy("copy-created-id", "", "Client ID");
  replaceCopy("copy-created-secret", "", "Client secret");
  hideMessage(byId("new-key-message"));
}

function confirmDelete(ctx, key) {
  confirmAction({
    title: `Delete API key “${key.label}”?`,
    text: [
      `Client ID ${key.client_id} can no longer get new tokens, on any server, from the moment you delete it.`,
      `Tokens already issued with it stay valid until they expire (up to ${ctx.tokenLifetime}). Update every application that uses it first.`,
    ],
    action: "Delete",
    run: async () => {
      await api("DELETE", `/api/teams/${encodeURIComponent(ctx.team)}/keys/${encodeURIComponent(key.client_id)}`);
      announce(`API key ${key.label} deleted.`);
      await loadKeys(ctx, null);
    },
  });
}
