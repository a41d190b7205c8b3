// Drafts: the code (and its kind) in an editor, kept in localStorage under a key that names the
// user ("livy-draft-<user pk>", templates/livy/notebook.html data-draft-key), so it survives a
// reload and a sign-in round trip. Every draft is removed at sign-out and on any signed-out page,
// so the next person at the browser never sees it.
import { localStore } from "./dom.js";

/** Prefix of every draft key; clearDrafts() removes all keys that start with it. */
export const DRAFT_PREFIX = "livy-draft-";

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
