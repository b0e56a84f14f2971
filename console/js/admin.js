// The admin pages: teams (list, create, switch to), signing keys (states, rotate, emergency
// revoke), and the audit log (every event for admin, the team's own for keys:read).

import { api, listAll } from "./api.js";
import { announce, badge, byId, confirmAction, h, hideMessage, showMessage, table, time } from "./dom.js";
import { formatTime } from "./format.js";

const AUDIT_PAGE_SIZE = 25;
let auditItems = [];
let auditCursor = null;

/** Wires the admin pages' forms and buttons once. */
export function setUpAdmin(ctx) {
  byId("new-team-form").addEventListener("submit", (event) => createTeam(event, ctx));
  byId("rotate").addEventListener("click", () => rotate(ctx, false));
  byId("rotate-now").addEventListener("click", () => confirmAction({
    title: "Rotate now?",
    text: [
      "A new signing key signs every token from now on, without the usual publish-ahead time.",
      "Resource servers that cached the JWKS fetch it again when they meet the new key id; the old key stays published until its tokens expire.",
    ],
    action: "Rotate now",
    run: () => rotate(ctx, true),
  }));
  byId("audit-more").addEventListener("click", () => loadAudit(ctx, auditCursor));
}

// Teams ---------------------------------------------------------------------------------------

export async function renderTeams(ctx) {
  const message = byId("teams-message");
  hideMessage(message);
  try {
    const teams = await listAll("/api/teams?limit=200");
    byId("teams-list").replaceChildren(table([
      { label: "Slug", cell: (t) => h("code", {}, t.slug) },
      { label: "Name", cell: (t) => t.name },
      { label: "Created", cell: (t) => time(t.created_at, formatTime(t.created_at)) },
      { label: "Actions", class: "actions-cell", cell: (t) => t.slug === ctx.team
        ? badge("shown", "ok")
        : h("button", { type: "button", class: "secondary", "aria-label": `Show API keys of ${t.slug}`, onclick: () => ctx.switchTeam(t.slug) }, "Show keys") },
    ], teams, "Teams"));
  } catch (error) {
    showMessage(message, error.message);
  }
}

async function createTeam(event, ctx) {
  event.preventDefault();
  const message = byId("teams-message");
  hideMessage(message);
  const slug = byId("team-slug").value.trim();
  const name = byId("team-name").value.trim();
  try {
    const team = await api("POST", "/api/teams", name ? { slug, name } : { slug });
    event.target.reset();
    showMessage(message, `Team ${team.slug} created.`, "info");
    announce(`Team ${team.slug} created.`);
    await ctx.reloadTeams();
    await renderTeams(ctx);
  } catch (error) {
    showMessage(message, error.message);
  }
}

// Signing keys --------------------------------------------------------------------------------

export async function renderSigningKeys(ctx) {
  const message = byId("signing-message");
  try {
    const page = await api("GET", "/api/admin/signing-keys");
    drawSigningKeys(ctx, page.items);
  } catch (error) {
    showMessage(message, error.message);
  }
}

function drawSigningKeys(ctx, keys) {
  byId("signing-list").replaceChildren(table([
    { label: "Key id", class: "id", cell: (k) => h("code", {}, k.kid) },
    { label: "Algorithm", cell: (k) => k.alg },
    { label: "State", cell: (k) => badge(k.state, k.state) },
    { label: "Created", cell: (k) => time(k.created_at, formatTime(k.created_at)) },
    { label: "Signs from", cell: (k) => time(k.activates_at, formatTime(k.activates_at)) },
    { label: "Retired", cell: (k) => time(k.retired_at, formatTime(k.retired_at)) },
    { label: "Removed after", cell: (k) => time(k.removed_after, formatTime(k.removed_after)) },
    { label: "Actions", class: "actions-cell", cell: (k) => k.state === "revoked" ? time(k.revoked_at, `revoked ${formatTime(k.revoked_at)}`)
      : h("button", { type: "button", class: "danger", "aria-label": `Revoke signing key ${k.kid}`, onclick: () => confirmRevoke(ctx, k) }, "Revoke") },
  ], keys, "Signing keys"));
}

async function rotate(ctx, now) {
  const message = byId("signing-message");
  hideMessage(message);
  try {
    const result = await api("POST", "/api/admin/signing-keys/rotate", now ? { now: true } : undefined);
    const key = result.key;
    const text = !result.started
      ? `A rotation is already pending: ${key?.kid} signs from ${formatTime(key?.activates_at)}.`
      : now ? `${key.kid} signs from now on.`
      : `${key.kid} is published and signs from ${formatTime(key.activates_at)}.`;
    showMessage(message, text, "info");
    announce(text);
    await renderSigningKeys(ctx);
  } catch (error) {
    if (now) throw error;
    showMessage(message, error.message);
  }
}

function confirmRevoke(ctx, key) {
  const text = [
    `${key.kid} leaves the JWKS at once and never signs again. Every token it signed stops validating: clients holding one must get a new token.`,
  ];
  if (key.state === "current") text.push("It is the current key: a new key takes over signing at once.");
  if (key.kid === ctx.session.kid) text.push("It signed your own console session, so you will be signed out.");
  confirmAction({
    title: `Revoke signing key ${key.kid}?`,
    text,
    action: "Revoke",
    run: async () => {
      await api("POST", `/api/admin/signing-keys/${encodeURIComponent(key.kid)}/revoke`);
      showMessage(byId("signing-message"), `${key.kid} is revoked.`, "info");
      announce(`Signing key ${key.kid} revoked.`);
      await renderSigningKeys(ctx);
    },
  });
}

// Audit log -----------------------------------------------------------------------------------

export async function renderAudit(ctx) {
  byId("audit-scope").textContent = ctx.isAdmin
    ? "Every change, newest first: teams, API keys, signing keys and the master key."
    : `Changes to team ${ctx.team}, newest first.`;
  await loadAudit(ctx, null);
}

async function loadAudit(ctx, cursor) {
  const message = byId("audit-message");
  hideMessage(message);
  const base = ctx.isAdmin ? "/api/admin/audit" : `/api/teams/${encodeURIComponent(ctx.team)}/audit`;
  const query = `limit=${AUDIT_PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
  try {
    const page = await api("GET", `${base}?${query}`);
    auditItems = cursor ? auditItems.concat(page.items) : page.items;
    auditCursor = page.next_cursor;
  } catch (error) {
    auditItems = [];
    auditCursor = null;
    showMessage(message, error.message);
  }
  byId("audit-more").hidden = !auditCursor;
  byId("audit-list").replaceChildren(auditItems.length === 0 ? h("p", { class: "empty" }, "No events yet.") : table([
    { label: "When", cell: (e) => time(e.at, formatTime(e.at)) },
    { label: "Actor", class: "id", cell: (e) => h("code", {}, e.actor) },
    { label: "Action", cell: (e) => h("code", {}, e.action) },
    { label: "Team", cell: (e) => e.team ?? "—" },
    { label: "Target", class: "id", cell: (e) => h("code", {}, e.target) },
    { label: "From", cell: (e) => e.source_ip ?? "—" },
    { label: "Detail", class: "detail", cell: (e) => detail(e.detail) },
  ], auditItems, "Audit events"));
}

function detail(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object" && Object.keys(value).length === 0) return "—";
  return h("code", {}, JSON.stringify(value));
}
