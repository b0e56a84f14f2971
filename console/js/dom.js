// Small DOM helpers. Everything is built with createElement and textContent: no HTML parsing of
// anything the server says (the Content-Security-Policy's Trusted Types rule refuses it anyway).

/** `h("td", {class: "x", "aria-label": "…"}, "text", child)`: an element; `on*` props listen. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

export const byId = (id) => document.getElementById(id);

/** Shows `text` in a message paragraph (`kind`: "error", "warning" or "info"). */
export function showMessage(element, text, kind = "error") {
  element.textContent = text;
  element.className = `message ${kind}`;
  element.hidden = false;
}

export function hideMessage(element) {
  element.textContent = "";
  element.hidden = true;
}

/** Says `text` to screen readers through the page's status region. */
export function announce(text) {
  const status = byId("status");
  status.textContent = "";
  // A new text node in a later task, so the same words twice are announced twice.
  setTimeout(() => { status.textContent = text; }, 50);
}

/** A "Copy" button for `text`; `what` names it ("Copy Client ID dh_live_…"). */
export function copyButton(text, what) {
  const button = h("button", { type: "button", class: "secondary copy", "aria-label": `Copy ${what}` }, "Copy");
  button.addEventListener("click", () => copy(text, button));
  return button;
}

/** Copies `text`; outside a secure context (no clipboard API) selects the value to copy by hand. */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
    announce("Copied to the clipboard");
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  } catch {
    const code = button.previousElementSibling;
    if (code) window.getSelection()?.selectAllChildren(code);
    announce("Press Ctrl+C to copy the selected text");
  }
}

/**
 * Wires a <dialog>: buttons with data-close close it, Tab and Shift+Tab stay inside it, and
 * focus returns to whatever opened it. showModal() makes the rest of the page inert, and Escape
 * closes it natively.
 */
export function setUpDialog(dialog) {
  dialog.addEventListener("click", (event) => {
    if (event.target instanceof HTMLElement && event.target.closest("[data-close]")) dialog.close();
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const focusable = [...dialog.querySelectorAll("button, input, select, textarea, a[href], [tabindex]")]
      .filter((e) => !e.disabled && e.tabIndex >= 0 && e.getClientRects().length > 0);
    if (focusable.length === 0) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && document.activeElement === last) {
      first.focus();
      event.preventDefault();
    }
  });
  dialog.addEventListener("close", () => {
    const opener = dialog.opener;
    dialog.opener = null;
    if (opener && opener.isConnected) opener.focus();
  });
}

/** Opens a dialog modally, remembering what had focus. */
export function openDialog(dialog) {
  dialog.opener = document.activeElement;
  dialog.showModal();
}

/**
 * A table that reads as cards on a narrow screen: each cell carries its column's name
 * (data-label, shown by CSS when the header row is hidden).
 * `columns`: [{ label, cell: (row) => Node|string, class? }].
 */
export function table(columns, rows, caption) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
  const body = h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) =>
    h("td", { "data-label": c.label, class: c.class }, c.cell(row))))));
  return h("table", { class: "cards" }, caption ? h("caption", { class: "visually-hidden" }, caption) : null, head, body);
}

/** A <time> showing `text`, with the exact instant as its datetime and tooltip. */
export function time(iso, text) {
  if (!iso) return text;
  return h("time", { datetime: iso, title: iso }, text);
}

/** A small labelled badge; the words carry the meaning, colour only repeats it. */
export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}`.trim() }, text);
}

/**
 * Asks before something that cannot be undone: `text` (paragraphs) says what happens, `action`
 * names the button, `run` does it. An error stays in the dialog as the API's own words.
 */
export function confirmAction({ title, text, action, run }) {
  const dialog = byId("confirm-dialog");
  const message = byId("confirm-message");
  hideMessage(message);
  byId("confirm-title").textContent = title;
  byId("confirm-text").replaceChildren(...text.map((p) => h("p", {}, p)));
  const old = byId("confirm-go");
  const go = h("button", { type: "button", id: "confirm-go", class: "danger" }, action);
  old.replaceWith(go);
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      await run();
      if (dialog.open) dialog.close();
    } catch (error) {
      if (dialog.open) showMessage(message, error.message);
    } finally {
      go.disabled = false;
    }
  });
  openDialog(dialog);
  // The safe choice has focus: Enter alone never confirms.
  dialog.querySelector("[data-close]").focus();
}
