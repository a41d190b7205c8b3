// Small DOM helpers shared by the modules of the app bundle.

/** The first element matching `selector` under `root` (default: the document), or null. */
export const $ = (selector, root = document) => root.querySelector(selector);

/** Every element matching `selector` under `root`, as an array. */
export const $all = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/**
 * Django's CSRF token for POSTs: a form's hidden `csrfmiddlewaretoken`, else
 * `<meta name="csrf-token">` (templates/base.html). "" when the page has neither.
 */
export function csrfToken() {
  const input = $("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  return $('meta[name="csrf-token"]')?.getAttribute("content") || "";
}

/** window.localStorage, or null when the browser refuses it (privacy mode, policy). */
export function localStore() {
  try { return window.localStorage; } catch { return null; }
}

/**
 * Marks `button` busy (aria-busy, disabled, optional `label` shown) or restores it.
 * @param {HTMLButtonElement|null} button
 * @param {boolean} busy
 * @param {string} [label]
 */
export function setBusy(button, busy, label) {
  if (!button) return;
  if (busy) {
    button.__livyLabel = button.textContent;
    if (label) button.textContent = label;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
  } else {
    if (button.__livyLabel != null) button.textContent = button.__livyLabel;
    button.removeAttribute("aria-busy");
    button.disabled = false;
  }
}
