// Fragment requests: every fetch that expects a fragment of HTML (a delta, the Livy status line)
// says so with the app's own header, `X-Livy-Fragment: 1`, and names the page it comes from in
// `X-Livy-Page` (where a sign-in round trip brings the user back). The server answers a
// fragment instead of a full page or a redirect (livy/views.py); when the user must sign in
// again it answers 204 with `X-Livy-Redirect: <sign-in URL>`, which this module follows.

import { csrfToken } from "./dom.js";

/** Header names shared with livy/views.py. */
export const FRAGMENT_HEADER = "X-Livy-Fragment";
export const PAGE_HEADER = "X-Livy-Page";
export const REDIRECT_HEADER = "X-Livy-Redirect";

/**
 * Sends a fragment request.
 * @param {string} url
 * @param {{method?: "GET"|"POST", body?: BodyInit, signal?: AbortSignal, accept?: "text"|"json",
 *          follow?: boolean}} [options] `follow: false` answers null to a redirect without
 *   following it (a background request, e.g. completion, must not take the user away).
 * @returns {Promise<string|object|null>} the body ("" for a 204; parsed JSON with accept "json"),
 *   or null when the server sent the browser elsewhere (sign in again).
 * @throws {Error} with `.status` for an HTTP error; the fetch's own errors (network, AbortError).
 */
export async function send(url, { method = "GET", body, signal, accept = "text", follow = true } = {}) {
  const headers = { [FRAGMENT_HEADER]: "1", [PAGE_HEADER]: window.location.href };
  if (method === "POST") headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(url, { method, body, signal, headers, credentials: "same-origin", cache: "no-store" });
  const redirect = response.headers.get(REDIRECT_HEADER);
  if (redirect) {
    if (follow) window.location.href = redirect;
    return null;
  }
  if (!response.ok) {
    const error = new Error(`the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return accept === "json" ? response.json() : response.text();
}

/** The #delta element of a delta answer (templates/livy/_delta.html), or null. */
export function parseDelta(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content.querySelector("#delta");
}

// Keep keyboard focus on the same control when its statement (or the bar) is re-rendered.
function focusMarker(container) {
  const active = document.activeElement;
  if (!active || !container.contains(active)) return null;
  const form = active.closest("form");
  if (form) return `form[action='${form.getAttribute("action")}'] button`;
  if (active.hasAttribute("data-copy")) return "[data-copy]";
  return "";
}

function restoreFocus(container, marker) {
  if (marker === null) return;
  let target = marker ? container.querySelector(marker) : null;
  if (!target) { container.setAttribute("tabindex", "-1"); target = container; }
  target.focus({ preventScroll: true });
}

/**
 * Replaces `old` by `fresh` unless it renders the same as the last fresh render put there (no
 * DOM work then), keeping the focus on the same control. `prepare(fresh, old)`, when given, runs
 * after that comparison and before the swap. Returns whether it swapped.
 */
export function swapElement(old, fresh, prepare) {
  const key = fresh.outerHTML;
  if (old.__livyKey === key) return false;
  prepare?.(fresh, old);
  const marker = focusMarker(old);
  fresh.__livyKey = key;
  old.replaceWith(fresh);
  restoreFocus(fresh, marker);
  return true;
}
