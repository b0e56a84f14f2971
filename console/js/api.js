// The console's only way to the server: the token endpoint and the management API, on this
// origin. It keeps the access token in sessionStorage (this tab only, gone when it closes), never
// the Client secret, and sends no cookie or stored HTTP credential with any request.

const TOKEN_KEY = "tokenmint.console.token";
const MANAGEMENT_SCOPES = [
  "keys:read", "keys:write", "webhooks:read", "webhooks:write", "webhooks:sign", "admin",
];

/** An error the console shows: the problem document's `detail`, or the OAuth error's description. */
export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** What to do when the API answers 401 (the token expired or its key was deleted). */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** The token's claims, decoded for display only: the server verifies the token, not us. */
export function decodeClaims(token) {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** The signed-in session of this tab, or null (none, unreadable, or expired). */
export function currentSession(now = Date.now()) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const claims = token && decodeClaims(token);
  if (!claims || typeof claims.exp !== "number" || claims.exp * 1000 <= now) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  const scopes = new Set(String(claims.scope || "").split(" ").filter(Boolean));
  const kid = decodeHeader(token)?.kid ?? null;
  return { token, claims, scopes, kid };
}

function decodeHeader(token) {
  return decodeClaims(`.${token.split(".")[0]}`);
}

/** Forgets the token (sign-out). */
export function forgetSession() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The RFC 8414 metadata: the issuer (the management API's audience) and the scope catalog. */
export async function metadata() {
  const response = await send("/.well-known/oauth-authorization-server", { method: "GET" });
  const doc = await readJson(response);
  if (!response.ok || !doc || typeof doc.issuer !== "string") {
    throw new ApiError(response.status, "the issuer's metadata could not be read");
  }
  const catalog = (doc.scopes_supported || []).filter((s) => !MANAGEMENT_SCOPES.includes(s));
  return { issuer: doc.issuer, catalog, management: MANAGEMENT_SCOPES };
}

/**
 * Trades a Client ID and secret for a management token (RFC 6749 §4.4 with client_secret_basic,
 * RFC 8707 resource = the issuer) and keeps the token. The secret goes no further than this call.
 */
export async function signIn(clientId, clientSecret) {
  const { issuer } = await metadata();
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
  const basic = btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`);
  const body = new URLSearchParams({ grant_type: "client_credentials", resource: issuer });
  const response = await send("/api/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${basic}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body,
  });
  const doc = await readJson(response);
  if (!response.ok || typeof doc?.access_token !== "string") {
    const detail = doc?.error_description || `the token endpoint answered ${response.status}`;
    throw new ApiError(response.status, detail, doc?.error);
  }
  sessionStorage.setItem(TOKEN_KEY, doc.access_token);
  return currentSession();
}

function formEncode(text) {
  return new URLSearchParams({ v: text }).toString().slice(2);
}

/** A management API call; resolves to the JSON answer (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const session = currentSession();
  if (!session) {
    const error = new ApiError(401, "Your session has expired.", "invalid_token");
    onUnauthorized(error);
    throw error;
  }
  const headers = { Authorization: `Bearer ${session.token}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await send(path, init);
  const doc = response.status === 204 ? null : await readJson(response);
  if (response.ok) return doc;
  // RFC 9457: every management API error is a problem document; show its detail.
  const detail = doc?.detail || doc?.error_description || `the server answered ${response.status}`;
  const error = new ApiError(response.status, detail, doc?.error);
  if (response.status === 401) {
    forgetSession();
    onUnauthorized(error);
  }
  throw error;
}

/** Every page of a listing, up to `max` items. */
export async function listAll(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await api("GET", cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

async function send(path, init) {
  try {
    // credentials "omit": no cookie, and no browser sign-in prompt on a 401 Basic challenge.
    return await fetch(path, { ...init, credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, `The server did not answer (${error.message}).`, "network");
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
