// The console's entry: sign-in and sign-out, who is signed in, the team switcher, and which page
// shows (#keys, #teams, #signing-keys, #audit). Each page renders itself from the management API.

import { currentSession, forgetSession, listAll, metadata, signIn, whenUnauthorized } from "./api.js";
import { byId, hideMessage, setUpDialog, showMessage } from "./dom.js";
import { renderKeys, setUpKeys } from "./keys.js";
import { renderAudit, renderSigningKeys, renderTeams, setUpAdmin } from "./admin.js";
import { describeSeconds } from "./format.js";

const TEAM_KEY = "tokenmint.console.team";
const PAGES = { keys: renderKeys, teams: renderTeams, "signing-keys": renderSigningKeys, audit: renderAudit };
const ADMIN_PAGES = new Set(["teams", "signing-keys"]);

/** What every page reads: who is signed in, what they may do, and which team is shown. */
const ctx = {
  session: null,
  meta: null,
  team: null,
  isAdmin: false,
  canWrite: false,
  tokenLifetime: "the token lifetime",
  refresh: () => showPage(),
  switchTeam: (slug) => switchTeam(slug),
  reloadTeams: () => loadTeams(),
};

let expiryTimer = null;

function start() {
  for (const dialog of document.querySelectorAll("dialog")) setUpDialog(dialog);
  byId("sign-in-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", () => signOut("You are signed out.", "info"));
  byId("team-switch").addEventListener("change", (event) => switchTeam(event.target.value));
  window.addEventListener("hashchange", () => showPage());
  whenUnauthorized((error) => signOut(`Your session has ended: ${error.message} Sign in again.`, "warning"));
  setUpKeys(ctx);
  setUpAdmin(ctx);
  if (currentSession()) enter();
  else showSignIn();
}

async function onSignIn(event) {
  event.preventDefault();
  const idField = byId("client-id");
  const secretField = byId("client-secret");
  const message = byId("sign-in-message");
  hideMessage(message);
  const button = event.submitter || event.target.querySelector("button");
  button.disabled = true;
  try {
    await signIn(idField.value.trim(), secretField.value);
    secretField.value = "";
    await enter();
  } catch (error) {
    showMessage(message, `Sign-in failed: ${error.message}`);
    secretField.focus();
  } finally {
    button.disabled = false;
  }
}

/** Shows the console for the token in this tab. */
async function enter() {
  const session = currentSession();
  if (!session) return showSignIn();
  ctx.session = session;
  ctx.isAdmin = session.scopes.has("admin");
  ctx.canWrite = ctx.isAdmin || session.scopes.has("keys:write");
  const { iat, exp } = session.claims;
  if (typeof iat === "number" && exp > iat) ctx.tokenLifetime = describeSeconds(exp - iat);
  ctx.team = (ctx.isAdmin && sessionStorage.getItem(TEAM_KEY)) || session.claims.team;
  scheduleExpiry(session.claims.exp);
  byId("sign-in").hidden = true;
  byId("session").hidden = false;
  byId("nav").hidden = false;
  for (const link of document.querySelectorAll("#nav [data-admin]")) link.hidden = !ctx.isAdmin;
  const scopes = [...session.scopes].join(" ");
  byId("whoami").textContent = `${session.claims.client_id} · ${scopes}`;
  byId("whoami").title = `Signed in with ${session.claims.client_id} of team ${session.claims.team}`;
  try {
    ctx.meta = await metadata();
  } catch (error) {
    ctx.meta = { catalog: [], management: ["keys:read", "keys:write", "webhooks:read", "webhooks:write", "webhooks:sign", "admin"] };
  }
  await loadTeams();
  await showPage();
}

/** The admin's team switcher, filled from GET /api/teams; others see their key's team only. */
async function loadTeams() {
  const picker = byId("team-picker");
  picker.hidden = !ctx.isAdmin;
  if (!ctx.isAdmin) return;
  const select = byId("team-switch");
  try {
    const teams = await listAll("/api/teams?limit=200");
    select.replaceChildren(...teams.map((t) => new Option(`${t.name} (${t.slug})`, t.slug)));
    if (!teams.some((t) => t.slug === ctx.team)) ctx.team = ctx.session.claims.team;
    select.value = ctx.team;
  } catch (error) {
    select.replaceChildren(new Option(ctx.team, ctx.team));
  }
}

function switchTeam(slug) {
  ctx.team = slug;
  sessionStorage.setItem(TEAM_KEY, slug);
  byId("team-switch").value = slug;
  if (location.hash !== "#keys") location.hash = "#keys";
  else showPage();
}

/** Renders the page the hash names (API keys by default). */
async function showPage() {
  if (!ctx.session) return;
  let name = location.hash.slice(1) || "keys";
  if (!(name in PAGES) || (ADMIN_PAGES.has(name) && !ctx.isAdmin)) name = "keys";
  for (const page of Object.keys(PAGES)) byId(`page-${page}`).hidden = page !== name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${byId(`page-${name}`).querySelector("h1").textContent} · tokenmint`;
  await PAGES[name](ctx);
}

function scheduleExpiry(exp) {
  clearTimeout(expiryTimer);
  // setTimeout holds at most 2^31-1 ms (about 24.8 days).
  const wait = Math.min(exp * 1000 - Date.now(), 2_147_483_647);
  expiryTimer = setTimeout(() => signOut("Your session has expired. Sign in again.", "warning"), wait);
}

/** Forgets the token and everything shown with it, and shows the sign-in form with `text`. */
function signOut(text, kind) {
  forgetSession();
  sessionStorage.removeItem(TEAM_KEY);
  clearTimeout(expiryTimer);
  ctx.session = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  for (const list of ["keys-list", "teams-list", "signing-list", "audit-list"]) byId(list).replaceChildren();
  byId("whoami").textContent = "";
  showSignIn();
  showMessage(byId("sign-in-message"), text, kind);
}

function showSignIn() {
  for (const page of Object.keys(PAGES)) byId(`page-${page}`).hidden = true;
  byId("session").hidden = true;
  byId("nav").hidden = true;
  byId("sign-in").hidden = false;
  document.title = "Sign in · tokenmint";
  byId("client-id").focus();
}

start();
