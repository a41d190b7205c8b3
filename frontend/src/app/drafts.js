// Drafts: the code (and its kind) in an editor, kept in localStorage under a key that names the
// user ("livy-draft-<user pk>", templates/livy/notebook.html data-draft-key), so it survives a
// reload and a sign-in round trip (an expired session or Microsoft token: the user signs in again
// and finds the text). Every draft is removed at an explicit sign-out (the Sign out button), and
// after one on any signed-out page (a draft written meanwhile by a tab still open elsewhere), so
// the next person at the browser never sees it; a session that merely expired keeps them.
import { localStore } from "./dom.js";

/** Prefix of every draft key; clearDrafts() removes all keys that start with it. */
export const DRAFT_PREFIX = "livy-draft-";

/** localStorage key set at an explicit sign-out and removed by the next signed-in page. */
export const SIGNED_OUT_KEY = "livy-signed-out";

/** The Sign out button was pressed: remove every draft and remember it until the next sign-in. */
export function signOut() {
  clearDrafts();
  try { localStore()?.setItem(SIGNED_OUT_KEY, String(Date.now())); } catch { /* storage off */ }
}

/**
 * On every page load: on a signed-out page, removes the drafts only when the user signed out
 * explicitly (not when the session expired: the sign-in page must keep them for the way back);
 * on a signed-in page, forgets that sign-out.
 * @param {boolean} signedIn
 */
export function settleDrafts(signedIn) {
  const store = localStore();
  if (!store) return;
  try {
    if (signedIn) store.removeItem(SIGNED_OUT_KEY);
    else if (store.getItem(SIGNED_OUT_KEY)) clearDrafts();
  } catch { /* storage off */ }
}

/** Removes every draft of every user from this browser. */
export function clearDrafts() {
  const store = localStore();
  if (!store) return;
  const keys = [];
  for (let i = 0; i < store.length; i++) {
    const key = store.key(i);
    if (key?.startsWith(DRAFT_PREFIX)) keys.push(key);
  }
  for (const key of keys) store.removeItem(key);
}

/**
 * The draft under `key`: {code, kind} ("" kind for an old plain-text draft), or null.
 * @param {string} key
 * @returns {{code: string, kind: string} | null}
 */
export function loadDraft(key) {
  const raw = key ? localStore()?.getItem(key) : null;
  if (!raw) return null;
  try {
    const value = JSON.parse(raw);
    if (value && typeof value.code === "string") return value;
  } catch { /* an old plain-text draft */ }
  return { code: raw, kind: "" };
}

/**
 * Keeps `code` and `kind` under `key` as JSON {code, kind}; empty code removes the draft.
 * A full or disabled storage is ignored (the draft is a convenience, the server keeps runs).
 */
export function saveDraft(key, code, kind) {
  const store = localStore();
  if (!store || !key) return;
  try {
    if (code) store.setItem(key, JSON.stringify({ code, kind }));
    else store.removeItem(key);
  } catch { /* storage full or off */ }
}
