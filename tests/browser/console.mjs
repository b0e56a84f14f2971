// End-to-end test of the console in Debian's Chromium, driven by tests/api/console/browser.rs,
// which starts the real server and passes what it made in the environment:
//   CONSOLE_BASE          http://127.0.0.1:PORT
//   ADMIN_ID/_SECRET      an admin key (team ops)
//   READER_ID/_SECRET     a keys:read key of team acme
//   OTHER_TEAM_ID         a key of team beta: must never be shown to the reader
//   OLD_KEY_ID            a key of acme created more than 90 days ago (a rotation candidate)
//   SCREENSHOTS           where to write the screenshots
// Every check that fails throws; the process exits 1 with the reason. On success it prints one
// line per check ("ok …") and a final JSON line with what the driver verifies again over HTTP.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env("CONSOLE_BASE");
const SHOTS = env("SCREENSHOTS");
mkdirSync(SHOTS, { recursive: true });

const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 375, height: 812 };
const result = {};

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok ${what}`);
}

/** A tab that records every console error, page error and CSP violation. */
async function open(browser, viewport) {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") page.problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => page.problems.push(`request failed: ${r.url()}`));
  page.on("request", (r) => { if (!r.url().startsWith(BASE)) page.problems.push(`request to another origin: ${r.url()}`); });
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const idField = (page) => page.locator("#sign-in").getByLabel("Client ID", { exact: true });
const secretField = (page) => page.locator("#sign-in").getByLabel("Client secret", { exact: true });

async function signIn(page, id, secret) {
  await idField(page).fill(id);
  await secretField(page).fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#page-keys").waitFor({ state: "visible" });
  await page.locator("#keys-list table, #keys-list .empty").first().waitFor();
}

/** The page's own token, as a test would steal it: to call the API around the page. */
const tokenOf = (page) => page.evaluate(() => sessionStorage.getItem("tokenmint.console.token"));

async function tokenRequest(id, secret) {
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");
  const response = await fetch(`${BASE}/api/oauth/token`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  return { status: response.status, body: await response.json() };
}

/** Every control has an accessible name (its label, aria-label or text). */
async function checkNames(page, where) {
  const unnamed = await page.evaluate(() => [...document.querySelectorAll("button, input, select, a[href]")]
    .filter((e) => e.getClientRects().length > 0)
    .filter((e) => !(e.getAttribute("aria-label") || e.labels?.length || e.getAttribute("aria-labelledby") || e.textContent.trim()))
    .map((e) => e.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, `every control on ${where} has an accessible name ${unnamed.join(" ")}`);
}

async function noSideScroll(page, where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${where} fits 375 px without sideways scrolling (overflow ${overflow}px)`);
}

async function storageHoldsNoSecret(page) {
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie + location.href);
  check(!stored.includes("_secret_"), "no client secret in storage, cookies or the URL");
}

/** The navigation's requests, bytes and paint times, from the page's Performance API. */
async function measure(page) {
  // A busy machine can fire "load" before the first frame is painted: the paint entries are
  // waited for (a page that never paints still reads -1 below and fails its check).
  await page
    .waitForFunction(() => performance.getEntriesByType("paint").length >= 2, null, { timeout: 10_000 })
    .catch(() => {});
  return page.evaluate(() => {
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    const paint = Object.fromEntries(performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
    return {
      requests: entries.length,
      body_bytes: entries.reduce((n, e) => n + e.encodedBodySize, 0),
      transfer_bytes: entries.reduce((n, e) => n + e.transferSize, 0),
      first_paint_ms: Math.round(paint["first-paint"] ?? -1),
      first_contentful_paint_ms: Math.round(paint["first-contentful-paint"] ?? -1),
    };
  });
}

async function performance(browser) {
  const { context, page } = await open(browser, DESKTOP);
  const response = await page.goto(`${BASE}/console`, { waitUntil: "load" });
  const headers = response.headers();
  check(headers["content-security-policy"]?.includes("frame-ancestors 'none'"), "CSP header on /console");
  check(!headers["content-security-policy"].includes("unsafe-inline"), "CSP admits no inline script or style");
  check(headers["x-frame-options"] === "DENY" && headers["referrer-policy"] === "no-referrer", "X-Frame-Options and Referrer-Policy");
  const cold = await measure(page);
  // Again in a new tab of the same browser: the figure a user sees, without the browser's own
  // first-start costs (its renderer process, its compiled code caches).
  const warmPage = await context.newPage();
  await warmPage.goto(`${BASE}/console`, { waitUntil: "load" });
  const warm = await measure(warmPage);
  // The same browser painting the server's plain-text /healthz: what any page costs here.
  await warmPage.goto(`${BASE}/healthz`, { waitUntil: "load" });
  const baseline = await measure(warmPage);
  // Bytes and requests of the first load (the second one revalidates: 304s, no bodies).
  const measured = {
    ...cold,
    first_paint_ms: warm.first_paint_ms,
    first_contentful_paint_ms: warm.first_contentful_paint_ms,
    cold_first_paint_ms: cold.first_paint_ms,
    baseline_first_paint_ms: baseline.first_paint_ms,
  };
  check(measured.first_paint_ms > 0, `first paint measured (${measured.first_paint_ms} ms; ${cold.first_paint_ms} ms in a just-started browser)`);
  result.performance = measured;
  await idField(page).waitFor();
  check(page.problems.length === 0, `no console errors on load ${page.problems.join("; ")}`);
  await context.close();
}

async function admin(browser) {
  const { context, page } = await open(browser, DESKTOP);
  await page.goto(`${BASE}/console`);
  await shot(page, "sign-in-desktop");
  await checkNames(page, "the sign-in page");

  await idField(page).fill(env("ADMIN_ID"));
  await secretField(page).fill("dh_secret_wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#sign-in-message").filter({ hasText: "Sign-in failed" }).waitFor();
  check(await page.locator("#sign-in-message").textContent().then((t) => /client authentication failed|invalid/i.test(t)), "a wrong secret shows the token endpoint's error_description");
  page.problems = page.problems.filter((p) => !p.includes("401"));

  await signIn(page, env("ADMIN_ID"), env("ADMIN_SECRET"));
  check(await secretField(page).inputValue() === "", "the secret field is emptied after sign-in");
  await storageHoldsNoSecret(page);
  await page.getByLabel("Team", { exact: true }).selectOption("acme");
  await page.locator("#keys-list").getByText(env("OLD_KEY_ID")).waitFor();
  const oldRow = page.locator("tr", { hasText: env("OLD_KEY_ID") });
  check(await oldRow.getByText("Rotate").isVisible(), "a key older than 90 days is flagged for rotation");
  check(await page.locator("tr", { hasText: "reader" }).getByText("Rotate").count() === 0, "a new key is not flagged");
  await shot(page, "keys-desktop");
  await checkNames(page, "the API keys page");

  // Copy a Client ID from the list.
  await oldRow.getByRole("button", { name: `Copy Client ID ${env("OLD_KEY_ID")}` }).click();
  check(await page.evaluate(() => navigator.clipboard.readText()) === env("OLD_KEY_ID"), "the copy button copies the full Client ID");

  // New API key.
  await page.getByRole("button", { name: "New API key" }).click();
  const dialog = page.getByRole("dialog", { name: "New API key" });
  await dialog.waitFor();
  const boxes = dialog.locator("#new-key-scopes input[type=checkbox]");
  check(await boxes.count() === 5 && (await boxes.evaluateAll((all) => all.every((b) => b.checked))), "every catalog scope is checked by default");
  check(await dialog.locator("#new-key-management input:checked").count() === 0, "no management scope is checked by default");
  for (let i = 0; i < 15; i += 1) await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.getElementById("new-key-dialog").contains(document.activeElement)), "Tab stays inside the dialog");
  await page.keyboard.press("Escape");
  check(!(await dialog.isVisible()), "Escape closes the dialog");
  check(await page.evaluate(() => document.activeElement?.id) === "new-key", "focus returns to New API key");

  await page.getByRole("button", { name: "New API key" }).click();
  await dialog.getByLabel("Label", { exact: true }).fill("console-e2e");
  await dialog.getByLabel("Expires").selectOption("90d");
  await shot(page, "new-key-form-desktop");
  await dialog.getByRole("button", { name: "Create key" }).click();
  await dialog.getByText("will not be shown again").waitFor();
  const clientId = (await page.locator("#created-client-id").textContent()).trim();
  const secret = (await page.locator("#created-client-secret").textContent()).trim();
  check(/^dh_live_[0-9A-Za-z]{20,}$/.test(clientId) && /^dh_secret_[0-9A-Za-z]{49}$/.test(secret), "the dialog shows the new Client ID and secret");
  await dialog.getByRole("button", { name: "Copy Client secret" }).click();
  check(await page.evaluate(() => navigator.clipboard.readText()) === secret, "the copy button copies the secret");
  await shot(page, "new-key-desktop");
  const token = await tokenRequest(clientId, secret);
  check(token.status === 200 && token.body.scope.split(" ").length === 5, "the secret from the dialog gets a token over HTTP");
  await storageHoldsNoSecret(page);
  await dialog.getByRole("button", { name: "Done" }).click();
  await page.waitForFunction(() => document.getElementById("created-client-secret").textContent === "", null, { timeout: 2000 });
  check(true, "the secret is wiped from the page when the dialog closes");
  const row = page.locator("tr", { hasText: clientId });
  await row.waitFor();
  check(await row.getByText("console-e2e").isVisible() && (await row.locator("code").first().textContent()) === clientId, "the list shows the label and the full Client ID");

  // Delete.
  await row.getByRole("button", { name: /^Delete console-e2e/ }).click();
  const confirm = page.getByRole("dialog", { name: /Delete API key/ });
  await confirm.waitFor();
  const confirmText = await confirm.textContent();
  check(/stay valid until they expire \(up to 24 hours\)/.test(confirmText), `the confirmation says issued tokens stay valid until they expire: ${confirmText}`);
  await shot(page, "delete-desktop");
  await confirm.getByRole("button", { name: "Delete", exact: true }).click();
  await row.waitFor({ state: "detached" });
  const refused = await tokenRequest(clientId, secret);
  check(refused.status === 401 && refused.body.error === "invalid_client", "the deleted key's next token request is refused");
  result.deleted = { client_id: clientId, client_secret: secret };

  await signingSecret(page);
  await adminPages(page);
  check(page.problems.length === 0, `no console errors or CSP violations (admin) ${page.problems.join("; ")}`);

  // An expired or refused token returns to sign-in with the API's words.
  const stolen = await tokenOf(page);
  await page.evaluate((t) => sessionStorage.setItem("tokenmint.console.token", t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA")), stolen);
  await page.reload();
  await page.locator("#sign-in-message").filter({ hasText: "Your session has ended" }).waitFor();
  check(await idField(page).isVisible(), "a refused token (401) returns to sign-in with a message");
  page.problems = page.problems.filter((p) => !p.includes("401"));
  await signIn(page, env("ADMIN_ID"), env("ADMIN_SECRET"));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You are signed out.").waitFor();
  check(await page.evaluate(() => sessionStorage.length) === 0, "sign-out forgets the token");
  await page.reload();
  await idField(page).waitFor();
  check(!(await page.locator("#page-keys").isVisible()), "after sign-out a reload shows the sign-in form, not the keys");
  check(page.problems.length === 0, `no console errors or CSP violations ${page.problems.join("; ")}`);
  await context.close();
}

/** The team's webhook signing secret: reveal, rotate with an overlap, revoke the previous one. */
async function signingSecret(page) {
  const section = page.locator("#signing-secret");
  check(await section.isVisible() && (await page.locator("#signing-secret-current").textContent()) === "", "the signing secret is not fetched before Reveal");
  await section.getByRole("button", { name: "Reveal signing secret" }).click();
  await page.locator("#signing-secret-values").waitFor();
  const first = (await page.locator("#signing-secret-current").textContent()).trim();
  check(/^whsec_[A-Za-z0-9+/]{43}=$/.test(first), "Reveal shows the whsec_ secret");
  await section.getByRole("button", { name: "Copy signing secret", exact: true }).click();
  check(await page.evaluate(() => navigator.clipboard.readText()) === first, "the copy button copies the signing secret");

  await section.getByLabel("Keep the old secret for").selectOption("24h");
  await section.getByRole("button", { name: "Rotate signing secret" }).click();
  const confirm = page.getByRole("dialog", { name: /Rotate the signing secret/ });
  check(/For 24 hours, each delivery also carries a signature made with the current secret/.test(await confirm.textContent()), "the rotate confirmation explains the overlap");
  await confirm.getByRole("button", { name: "Rotate", exact: true }).click();
  await page.waitForFunction((old) => {
    const now = document.getElementById("signing-secret-current").textContent;
    return now && now !== old;
  }, first);
  const second = (await page.locator("#signing-secret-current").textContent()).trim();
  check((await page.locator("#signing-secret-previous code").textContent()) === first, "after a rotation the previous secret is shown beside the new one, with when it ends");
  await shot(page, "signing-secret-desktop");
  const token = await tokenOf(page);
  const auth = { authorization: `Bearer ${token}` };
  const during = await (await fetch(`${BASE}/api/teams/acme/webhook-secret`, { headers: auth })).json();
  check(during.secret === second && during.previous_secret === first, "the API agrees: the new secret signs, the old one until the overlap ends");

  await section.getByRole("button", { name: "Revoke previous secret" }).click();
  const revoke = page.getByRole("dialog", { name: /Revoke the previous signing secret/ });
  await revoke.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.locator("#signing-secret-previous").waitFor({ state: "hidden" });
  const after = await (await fetch(`${BASE}/api/teams/acme/webhook-secret`, { headers: auth })).json();
  check(after.secret === second && after.previous_secret === null, "Revoke previous secret ends the overlap (the API shows no previous secret)");
  await section.getByRole("button", { name: "Hide" }).click();
  check((await page.locator("#signing-secret-current").textContent()) === "", "Hide takes the secret off the page");
  result.signing_secret = second;
}

async function adminPages(page) {
  await page.getByRole("link", { name: "Teams" }).click();
  await page.getByLabel("Slug", { exact: true }).fill("gamma");
  await page.getByLabel("Name", { exact: true }).fill("Gamma Ltd");
  await page.getByRole("button", { name: "Create team" }).click();
  await page.getByText("Team gamma created.").waitFor();
  // The message comes first; the list is read again from the API after it.
  await page.locator("#teams-list").getByText("Gamma Ltd").waitFor({ timeout: 5000 });
  check(true, "an admin creates a team");
  await page.getByLabel("Slug", { exact: true }).fill("gamma");
  await page.getByRole("button", { name: "Create team" }).click();
  await page.locator("#teams-message.error").waitFor();
  check(/already exists|taken/.test(await page.locator("#teams-message").textContent()), "a taken slug shows the problem detail");
  page.problems = page.problems.filter((p) => !p.includes("409"));
  await shot(page, "teams-desktop");

  await page.getByRole("link", { name: "Signing keys" }).click();
  await page.locator("#signing-list table").waitFor();
  await page.getByRole("button", { name: "Rotate", exact: true }).click();
  await page.locator("#signing-list").getByText("next", { exact: true }).waitFor();
  const nextRow = page.locator("tr", { has: page.locator(".badge.next") });
  const kid = (await nextRow.locator("code").first().textContent()).trim();
  check(kid.length > 0, "a staged rotation publishes a next key");
  await nextRow.getByRole("button", { name: `Revoke signing key ${kid}` }).click();
  const confirm = page.getByRole("dialog", { name: /Revoke signing key/ });
  check(/stops validating/.test(await confirm.textContent()), "the revoke confirmation says its tokens stop validating");
  await confirm.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.locator("tr", { hasText: kid }).locator(".badge.revoked").waitFor();
  check(true, "an admin revokes a signing key after confirming");
  await shot(page, "signing-keys-desktop");

  await page.getByRole("link", { name: "Audit log" }).click();
  await page.locator("#audit-list table").waitFor();
  const before = await page.locator("#audit-list tbody tr").count();
  check(before === 25 && (await page.getByRole("button", { name: "Older events" }).isVisible()), "the audit log shows a page of 25 and a next page");
  await page.getByRole("button", { name: "Older events" }).click();
  await page.waitForFunction((n) => document.querySelectorAll("#audit-list tbody tr").length > n, before);
  check(true, "Older events loads the next page (next_cursor)");
  check(await page.locator("#audit-list").getByText("api_key.delete").count() > 0, "the audit log records the deletion");
  await shot(page, "audit-desktop");
  await page.getByRole("link", { name: "API keys" }).click();
}

async function phone(browser) {
  const { context, page } = await open(browser, PHONE);
  await page.goto(`${BASE}/console`);
  await shot(page, "sign-in-375");
  await noSideScroll(page, "sign-in");
  await signIn(page, env("ADMIN_ID"), env("ADMIN_SECRET"));
  await page.getByLabel("Team", { exact: true }).selectOption("acme");
  await page.locator("#keys-list").getByText(env("OLD_KEY_ID")).waitFor();
  await shot(page, "keys-375");
  await noSideScroll(page, "API keys");
  await page.getByRole("button", { name: "New API key" }).click();
  await page.getByRole("dialog", { name: "New API key" }).waitFor();
  await shot(page, "new-key-375");
  await page.keyboard.press("Escape");
  for (const [link, name, ready] of [["Teams", "teams", "#teams-list table"], ["Signing keys", "signing-keys", "#signing-list table"], ["Audit log", "audit", "#audit-list table"]]) {
    await page.getByRole("link", { name: link }).click();
    await page.locator(ready).waitFor();
    await shot(page, `${name}-375`);
    await noSideScroll(page, link);
  }
  check(page.problems.length === 0, `no console errors at 375 px ${page.problems.join("; ")}`);
  await context.close();
}

async function reader(browser) {
  const { context, page } = await open(browser, DESKTOP);
  await page.goto(`${BASE}/console`);
  await signIn(page, env("READER_ID"), env("READER_SECRET"));
  await page.locator("#keys-list table").waitFor();
  check(await page.locator("#keys-list").getByText(env("OLD_KEY_ID")).isVisible(), "a keys:read key sees its team's keys");
  check(!(await page.getByRole("button", { name: "New API key" }).isVisible()), "a keys:read key sees no New API key button");
  check(await page.getByRole("button", { name: /^Delete/ }).count() === 0, "a keys:read key sees no Delete buttons");
  check(!(await page.getByRole("link", { name: "Signing keys" }).isVisible()) && !(await page.getByLabel("Team", { exact: true }).isVisible()), "a keys:read key sees no admin pages and no team switcher");
  check(!(await page.locator("#signing-secret").isVisible()), "a keys:read key sees no signing secret section");
  const html = await page.content();
  check(!html.includes(env("OTHER_TEAM_ID")), "another team's keys are never shown");
  await shot(page, "keys-reader-desktop");
  const token = await tokenOf(page);
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const create = await fetch(`${BASE}/api/teams/acme/keys`, { method: "POST", headers: auth, body: JSON.stringify({ label: "sneaky" }) });
  const remove = await fetch(`${BASE}/api/teams/acme/keys/${env("OLD_KEY_ID")}`, { method: "DELETE", headers: auth });
  const other = await fetch(`${BASE}/api/teams/beta/keys`, { headers: auth });
  check(create.status === 403 && remove.status === 403 && other.status === 403, "the API refuses the reader's create, delete and other team's list (403)");
  await page.evaluate(() => { location.hash = "#signing-keys"; });
  check(await page.locator("#page-keys").isVisible(), "an admin page's address shows the reader the keys page instead");
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.locator("#audit-list table").waitFor();
  check(!(await page.locator("#audit-list").textContent()).includes("beta"), "the reader's audit log holds its own team's events only");
  check(page.problems.length === 0, `no console errors (reader) ${page.problems.join("; ")}`);
  await context.close();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  await performance(browser);
  await admin(browser);
  await phone(browser);
  await reader(browser);
} catch (error) {
  console.error(error.stack || String(error));
  process.exitCode = 1;
} finally {
  await browser.close();
}
if (!process.exitCode) console.log(`RESULT ${JSON.stringify(result)}`);
