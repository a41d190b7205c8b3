/**
 * @module notebook-page
 *
 * The owner's notebook page (templates/livy/notebooks/page.html): cells in order, each with its
 * own editor (code-editor.js: CodeMirror, or the textarea with the same keys), a language
 * picker, Run (Ctrl/Cmd+Enter), Shift+Enter (run and move to the next cell, creating one at the
 * end), add above/below, move up/down, delete, the parameters mark; Run all, Run from here,
 * Cancel all; markdown rendered by the server (edit on double-click or Edit).
 *
 * Saving: every change is kept in localStorage at once and saved ~1 s after the last keystroke
 * through the versioned save (POST urls.save {version, cells}); the state reads "Saved",
 * "Saving…" or "Not saved: <reason> (retrying)" (network errors and 5xx are retried with
 * backoff: 1, 2, 4 … 30 s). A 409 (another tab saved first) shows theirs vs yours: "Reload
 * theirs" or "Keep mine" (save over theirs); a 409 whose notebook is exactly what was sent counts
 * as saved.
 *
 * Local copies (drafts), one per tab: key `<data.draft_key>-tab-<tab id>` (the tab id lives in
 * sessionStorage, so it survives a reload and a sign-in round trip; the key is under the drafts
 * prefix, so an explicit sign-out removes it: drafts.js). A tab drops only its own copy, once the
 * server has everything it typed, so one tab's save never deletes another tab's unsaved text. On
 * load the tab's own copy is restored and saved when the server does not have it; without one,
 * the newest copy a closed tab left (marked at pagehide, or not refreshed for DRAFT_STALE ms: a
 * crash) is taken over (a 409 then shows what changed meanwhile).
 *
 * Signed out: every request carries the app's `X-Livy-Fragment`/`X-Livy-Page` headers, so an
 * expired Microsoft token (LivySignInRequired, livy/middleware.py) answers 204 with
 * `X-Livy-Redirect: <sign-in URL>`: the page writes its local copy and follows it (back here after
 * signing in, where the copy is restored). An expired Django session answers login_required's
 * redirect, which fetch follows to the HTML sign-in page: an answer that was redirected or is not
 * JSON reads "Signed out: sign in again, your edits are kept in this browser", with a sign-in
 * link that comes back here; nothing is dropped.
 *
 * Runs: POST urls.run {mode: "all" | "from" | "cell", cell, known} after the save; while a run
 * goes on the page polls (POST urls.poll {known}), which also sends the run's next cells. The
 * answers carry each cell's run (the HTML under it only when it changed: `known` is what the
 * page shows), the run's state (the failed cell named in a notice), the session bar and the
 * injected parameters.
 *
 * window.LivyNotebook.notebookPage: {saveNow(), state(), cells()} for tests.
 */
import { $, $all, csrfToken, localStore } from "./dom.js";
import { attachEditor } from "./code-editor.js";
import { bindRunKeys } from "./keyboard.js";
import { enhanceOutputs } from "./outputs.js";
import { startTicking } from "./clock.js";
import { FRAGMENT_HEADER, PAGE_HEADER, REDIRECT_HEADER } from "./fragment.js";

/** Milliseconds after the last change before it is saved. */
export const SAVE_DELAY = 1000;
const RETRY_MAX = 30000;
const POLL_DELAY = 400;
/** Milliseconds after which an unsaved copy of another tab counts as left behind (its tab
 * refreshes it every DRAFT_REFRESH ms while it is open). */
export const DRAFT_STALE = 10 * 60 * 1000;
const DRAFT_REFRESH = 60 * 1000;
const TAB_KEY = "livy-notebook-tab";
/** What the page says when the server answered with the sign-in page (the session expired). */
export const SIGNED_OUT = "Signed out: sign in again, your edits are kept in this browser";
const RUN_UNSURE = "The server cannot be reached: the run may have started (its outputs show here once the "
  + "server answers). Your cells are kept.";

/**
 * POSTs `body` as JSON with the app's headers (CSRF, X-Livy-Fragment, X-Livy-Page).
 * @returns {Promise<{status: number, data: object|null, redirect?: string, signedOut?: string}>}
 *   `redirect`: the sign-in URL of X-Livy-Redirect (the Microsoft token expired); `signedOut`:
 *   the answer was redirected or is not JSON (the session expired; the value is the sign-in
 *   page's URL, "" when unknown). Throws the fetch's own errors (network).
 */
async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json",
               [FRAGMENT_HEADER]: "1", [PAGE_HEADER]: window.location.href },
    body: JSON.stringify(body),
  });
  const status = response.status;
  const redirect = response.headers.get(REDIRECT_HEADER);
  if (redirect) return { status, data: null, redirect };
  const json = (response.headers.get("Content-Type") || "").includes("json");
  // login_required's 302, followed by fetch to the sign-in page; or a sign-in page served in place
  // (an SSO proxy), or Django's HTML 403 when the CSRF cookie went with the session.
  if (response.redirected || (!json && (response.ok || status === 401 || status === 403))) {
    return { status, data: null, signedOut: response.redirected ? response.url : "" };
  }
  let data = null;
  try { data = await response.json(); } catch { /* not JSON (a proxy's error page) */ }
  return { status, data };
}

/** This tab's id (sessionStorage: kept across reloads of the tab), or a new one per page load. */
function tabId() {
  const fresh = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  try {
    const session = window.sessionStorage;
    const id = session.getItem(TAB_KEY);
    if (id) return id;
    session.setItem(TAB_KEY, fresh);
  } catch { /* sessionStorage off: one id per page load */ }
  return fresh;
}

export function setupNotebookPage(list) {
  const data = JSON.parse($("#nb-data").textContent);
  const template = $("#nb-cell-template");
  const stateEl = $("#nb-save-state");
  const metaCount = $("#nb-meta-count"), metaTime = $("#nb-meta-time");

  /** The header's "4 cells · last edit 2026-12-02 20:41" from a saved notebook's JSON. */
  function showMeta(saved) {
    const n = saved.cells.length;
    if (metaCount) metaCount.textContent = `${n} cell${n === 1 ? "" : "s"}`;
    if (metaTime && saved.updated_at) {
      const when = new Date(saved.updated_at), pad = (v) => String(v).padStart(2, "0");
      metaTime.setAttribute("datetime", saved.updated_at);
      metaTime.textContent = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ` +
        `${pad(when.getHours())}:${pad(when.getMinutes())}`;
    }
  }
  const errorEl = $("#nb-error");
  const conflictEl = $("#nb-conflict");
  const runAllButton = $('[data-nb="run-all"]');
  const cancelButton = $('[data-nb="cancel-all"]');
  const store = localStore();
  let version = data.version;
  let edits = 0; // changes made on this page; the save answer tells which were saved
  let savedEdits = 0;
  let saving = null; // the save on its way (a Promise)
  let saveTimer = null;
  let retryDelay = 1000;
  let conflict = null; // the server's notebook while a conflict is shown
  let polling = null;
  let pollFailures = 0;
  let runState = data.state;
  let signedOut = null; // the sign-in URL while the server says this browser is signed out
  let leaving = false; // on the way to sign in: no "leave the page?" question
  let runUnsure = false; // the last Run got no answer: it may have started
  const draftKey = `${data.draft_key}-tab-${tabId()}`;

  // ---------------------------------------------------------------------------- status
  function showSave(state, text) {
    stateEl.setAttribute("data-state", state);
    stateEl.textContent = text;
  }
  function showError(message) {
    errorEl.hidden = !message;
    errorEl.textContent = message || "";
  }

  /** The server answered with its sign-in page: say so, keep the local copy, stop polling. */
  function showSignedOut(url) {
    if (edits !== savedEdits) writeDraft();
    let target = window.location.href;
    if (url) {
      // The sign-in page fetch landed on, with `next` back to this page (not to the JSON URL).
      try {
        const signIn = new URL(url, window.location.href);
        signIn.searchParams.set("next", window.location.pathname + window.location.search);
        target = signIn.href;
      } catch { /* keep this page: it sends the browser to sign in */ }
    }
    signedOut = target;
    clearTimeout(saveTimer);
    clearTimeout(polling);
    polling = null;
    showSave("error", SIGNED_OUT);
    errorEl.hidden = false;
    errorEl.textContent = "Signed out: your edits are kept in this browser and saved once you are back. ";
    const link = document.createElement("a");
    link.href = target;
    link.textContent = "Sign in again";
    link.setAttribute("data-nb", "sign-in");
    link.addEventListener("click", () => { leaving = true; if (edits !== savedEdits) writeDraft(); });
    errorEl.append(link);
  }

  /** The server sent the browser to sign in (X-Livy-Redirect): keep the local copy, go. */
  function followSignIn(url) {
    if (edits !== savedEdits) writeDraft();
    leaving = true;
    clearTimeout(saveTimer);
    clearTimeout(polling);
    polling = null;
    showSave("error", "Signing in again… (your edits are kept in this browser)");
    window.location.assign(url);
  }

  /** postJSON, with the sign-in answers handled: `away` is true when the caller should stop. */
  async function post(url, body) {
    const answer = await postJSON(url, body);
    if (answer.redirect) { followSignIn(answer.redirect); return { ...answer, away: true }; }
    if (answer.signedOut != null) { showSignedOut(answer.signedOut); return { ...answer, away: true }; }
    if (signedOut) { signedOut = null; showError(""); } // signed in again (another tab)
    return { ...answer, away: false };
  }

  // ----------------------------------------------------------------------------- cells
  const cells = () => $all(":scope > li.nb-cell", list);
  const handles = new WeakMap(); // li -> {editor, unbind}

  function sourceOf(li) {
    const handle = handles.get(li);
    return handle?.editor ? handle.editor.getValue() : $("[data-source]", li).value;
  }

  function snapshot() {
    return cells().map((li) => ({
      id: li.getAttribute("data-cell-id") ? Number(li.getAttribute("data-cell-id")) : null,
      kind: li.getAttribute("data-kind"),
      source: sourceOf(li),
      is_parameters: li.hasAttribute("data-parameters"),
    }));
  }

  function renumber() {
    let n = 0;
    for (const li of cells()) {
      n += 1;
      $("[data-number]", li).textContent = `[${n}]`;
      li.setAttribute("aria-label", `Cell ${n}`);
    }
  }

  function setEditing(li, editing) {
    const markdown = li.getAttribute("data-kind") === "markdown";
    li.toggleAttribute("data-editing", editing || !markdown);
    const rendered = $("[data-rendered]", li);
    rendered.hidden = !markdown || editing;
    const host = $("[data-source]", li);
    const rich = host.nextElementSibling?.classList?.contains("cm-editor") ? host.nextElementSibling : null;
    if (markdown) {
      host.hidden = !editing;
      if (editing) host.focus();
    }
    if (rich) rich.hidden = markdown && !editing;
  }

  function attach(li) {
    const textarea = $("[data-source]", li);
    const kind = li.getAttribute("data-kind");
    const old = handles.get(li);
    if (old) { old.editor?.destroy(); old.unbind?.(); }
    const onRun = () => runCell(li, false);
    const onRunAndClear = () => runCell(li, true);
    if (kind === "markdown") {
      textarea.hidden = false;
      const unbind = bindRunKeys(textarea, { onRun, onRunAndClear });
      handles.set(li, { editor: null, unbind });
      setEditing(li, !textarea.value.trim());
    } else {
      textarea.hidden = false;
      const editor = attachEditor(textarea, { language: kind, onRun, onRunAndClear });
      handles.set(li, { editor });
      setEditing(li, true);
    }
    $("[data-kind-picker]", li).value = kind;
  }

  function newCell(kind = "pyspark", source = "") {
    const li = template.content.firstElementChild.cloneNode(true);
    li.setAttribute("data-kind", kind);
    $("[data-source]", li).value = source;
    return li;
  }

  function insert(li, before) {
    list.insertBefore(li, before || null);
    attach(li);
    renumber();
    return li;
  }

  function focusCell(li) {
    const handle = handles.get(li);
    if (handle?.editor) handle.editor.focus();
    else $("[data-source]", li).focus();
    li.scrollIntoView({ block: "nearest" });
  }

  /** Replaces every cell with `given` ({id, kind, source, is_parameters, html?}). */
  function rebuild(given) {
    for (const li of cells()) { handles.get(li)?.editor?.destroy(); li.remove(); }
    for (const c of given) {
      const li = newCell(c.kind, c.source);
      if (c.id != null) li.setAttribute("data-cell-id", String(c.id));
      li.toggleAttribute("data-parameters", !!c.is_parameters);
      $("[data-parameters-badge]", li).hidden = !c.is_parameters;
      if (c.html != null) $("[data-rendered]", li).innerHTML = c.html;
      list.appendChild(li);
      attach(li);
    }
    renumber();
  }

  // ---------------------------------------------------------------------------- drafts
  /** Writes this tab's copy ({base, cells, at, closed}); `closed`: the tab is going away. */
  function writeDraft(closed = false) {
    if (!store) return;
    try { store.setItem(draftKey, JSON.stringify({ base: version, cells: snapshot(), at: Date.now(), closed })); }
    catch { /* storage full or off: the server save still runs */ }
  }
  /** Drops this tab's copy only: another tab's unsaved copy stays. */
  function dropDraft() {
    try { store?.removeItem(draftKey); } catch { /* ignore */ }
  }
  function readDraft(key) {
    try {
      const value = JSON.parse(store?.getItem(key) || "null");
      return value && Array.isArray(value.cells) ? value : null;
    } catch { return null; }
  }
  /** This tab's copy, else the newest copy a closed (or crashed) tab left: {key, draft} or null.
   * The shared key of older versions of this page (data.draft_key itself) counts as left. */
  function findDraft() {
    const own = readDraft(draftKey);
    if (own) return { key: draftKey, draft: own };
    if (!store) return null;
    let best = null;
    const prefix = `${data.draft_key}-tab-`;
    const now = Date.now();
    try {
      for (let i = 0; i < store.length; i++) {
        const key = store.key(i);
        if (key !== data.draft_key && !key?.startsWith(prefix)) continue;
        const draft = readDraft(key);
        const left = draft && (key === data.draft_key || draft.closed || !(now - draft.at < DRAFT_STALE));
        if (left && (!best || draft.at > best.draft.at)) best = { key, draft };
      }
    } catch { return null; }
    return best;
  }

  // ---------------------------------------------------------------------------- saving
  function changed() {
    edits += 1;
    writeDraft();
    if (conflict) return; // saved once the user chose
    showSave("saving", "Saving…");
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { saveNow(); }, SAVE_DELAY);
  }

  function retryLater(reason) {
    showSave("error", `Not saved: ${reason} (retrying)`);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { saveNow(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX);
  }

  /** Saves now (after the save on its way, if any); resolves true once the server has it all. */
  async function saveNow() {
    clearTimeout(saveTimer);
    while (saving) await saving; // one save at a time: two with the same version would conflict
    if (conflict) return false;
    if (edits === savedEdits) return true;
    const sentEdits = edits;
    const sentCells = cells();
    const body = { version, cells: snapshot() };
    showSave("saving", "Saving…");
    const mine = (async () => {
      let answer;
      try { answer = await post(data.urls.save, body); }
      catch { retryLater("the server cannot be reached"); return false; }
      if (answer.away) return false;
      const { status, data: reply } = answer;
      // A 409 whose notebook is what was sent (another tab took over this tab's copy and saved it).
      const same409 = status === 409 && reply?.notebook && sameCells(reply.notebook.cells, body.cells);
      if ((status === 200 && reply) || same409) {
        const saved = same409 ? reply.notebook : reply;
        version = saved.version;
        retryDelay = 1000;
        saved.cells.forEach((c, i) => {
          const li = sentCells[i];
          if (!li) return;
          li.setAttribute("data-cell-id", String(c.id));
          if (c.html != null) $("[data-rendered]", li).innerHTML = c.html;
        });
        savedEdits = Math.max(savedEdits, sentEdits);
        showMeta(reply);
        if (edits === savedEdits) { dropDraft(); showSave("saved", "Saved"); }
        else writeDraft();
        return true;
      }
      if (status === 409 && reply?.notebook) { showConflict(reply.notebook); return false; }
      if (status >= 500 || status === 0 || status === 429) { retryLater(reply?.message || `the server answered ${status}`); return false; }
      showSave("error", `Not saved: ${reply?.message || `the server answered ${status}`} (your text is kept in this browser)`);
      return false;
    })();
    saving = mine;
    try { return await mine; }
    finally {
      if (saving === mine) saving = null;
      if (edits !== savedEdits && !conflict && stateEl.getAttribute("data-state") !== "error") {
        saveTimer = setTimeout(() => { saveNow(); }, SAVE_DELAY);
      }
    }
  }

  /** Whether two cell lists have the same kinds, sources and parameters mark, in order. */
  function sameCells(a, b) {
    const plain = (list) => JSON.stringify((list || []).map((c) => [c.kind, c.source, !!c.is_parameters]));
    return plain(a) === plain(b);
  }

  function cellsText(given) {
    return given.map((c, i) => `[${i + 1}] ${c.kind}${c.is_parameters ? " (parameters)" : ""}\n${c.source}`).join("\n\n");
  }

  function showConflict(theirs) {
    conflict = theirs;
    showSave("error", "Not saved: changed elsewhere (choose below)");
    $('[data-conflict="theirs"]', conflictEl).textContent = cellsText(theirs.cells);
    $('[data-conflict="yours"]', conflictEl).textContent = cellsText(snapshot());
    conflictEl.hidden = false;
    conflictEl.scrollIntoView({ block: "nearest" });
  }

  function takeTheirs() {
    const theirs = conflict;
    conflict = null;
    conflictEl.hidden = true;
    version = theirs.version;
    rebuild(theirs.cells);
    savedEdits = edits;
    dropDraft();
    showSave("saved", "Saved");
    applyCells(theirs.cells.map((c) => ({ id: c.id })), true);
    schedulePoll(0); // the rebuilt cells' outputs come back with the poll's answer
  }

  function keepMine() {
    const theirs = conflict;
    conflict = null;
    conflictEl.hidden = true;
    version = theirs.version;
    const known = new Set(theirs.cells.map((c) => c.id));
    for (const li of cells()) {
      const id = Number(li.getAttribute("data-cell-id"));
      if (id && !known.has(id)) li.setAttribute("data-cell-id", ""); // deleted there: saved as new
    }
    edits += 1;
    writeDraft();
    saveNow();
  }

  // ------------------------------------------------------------------------------ runs
  function known() {
    const map = {};
    for (const li of cells()) {
      const id = li.getAttribute("data-cell-id");
      if (id) map[id] = li.getAttribute("data-key") || "";
    }
    return map;
  }

  function applyCells(entries, force) {
    const byId = new Map(cells().map((li) => [li.getAttribute("data-cell-id"), li]));
    for (const entry of entries) {
      const li = byId.get(String(entry.id));
      if (!li) continue;
      // Answers may arrive out of order (a Run's answer after a later poll's): never go back
      // to an older run of the cell, nor from a finished state to an unfinished one.
      const st0 = entry.statement;
      const shownId = Number(li.getAttribute("data-statement-id") || 0);
      const shownDone = li.getAttribute("data-statement-done") === "1";
      if (!force && ((!st0 && shownId) || (st0 && (st0.id < shownId || (st0.id === shownId && shownDone && !st0.is_terminal))))) continue;
      if (st0) {
        li.setAttribute("data-statement-id", String(st0.id));
        li.setAttribute("data-statement-done", st0.is_terminal ? "1" : "0");
      }
      if (entry.html != null) {
        const out = $("[data-output]", li);
        out.innerHTML = entry.html;
        enhanceOutputs(out);
      }
      if (entry.key != null) li.setAttribute("data-key", entry.key);
      else if (force) li.removeAttribute("data-key");
      const st = entry.statement;
      li.setAttribute("data-run-state", st ? st.state : "");
    }
  }

  function applyState(state) {
    if (!state) return;
    runState = state;
    applyCells(state.cells || []);
    const session = $("#nb-session");
    session.textContent = state.session.text;
    session.classList.toggle("nb-session-gone", !!state.session.gone);
    const notice = $("#nb-run-notice");
    const run = state.run;
    notice.hidden = !run || run.state === "succeeded";
    notice.classList.toggle("notice-error", !!run && run.state === "failed");
    if (run) {
      const done = run.cells.filter((c) => !["queued", "sending", "waiting", "running", "cancelling"].includes(c.state)).length;
      notice.textContent = run.state === "running" ? `${run.message} ${done} of ${run.cells.length} done.` : run.message;
    }
    cancelButton.disabled = !(run && run.state === "running");
    for (const li of cells()) {
      const box = $("[data-injected]", li);
      const injected = state.injected && String(state.injected.cell_id) === li.getAttribute("data-cell-id");
      box.hidden = !injected;
      if (injected) $("pre", box).textContent = state.injected.code;
    }
    if (state.busy) schedulePoll();
  }

  function schedulePoll(delay = POLL_DELAY) {
    if (polling || signedOut || leaving) return;
    polling = setTimeout(async () => {
      let answer = null;
      try { answer = await post(data.urls.poll, { known: known() }); } catch { answer = null; }
      polling = null;
      if (answer?.away) return;
      if (answer && answer.status === 200) {
        pollFailures = 0;
        showError(runUnsure ? RUN_UNSURE : "");
        applyState(answer.data);
        return;
      }
      pollFailures += 1;
      if (answer?.data?.state) applyState({ ...answer.data.state, busy: false });
      showError(answer?.data?.message ? `${answer.data.message} (trying again)` : "The server cannot be reached (trying again).");
      schedulePoll(Math.min(POLL_DELAY * 2 ** pollFailures, RETRY_MAX));
    }, delay);
  }

  async function startRun(mode, li, button) {
    showError("");
    runUnsure = false;
    if (!(await saveNow())) {
      if (signedOut || leaving) return null; // showSignedOut said why
      showError(conflict ? "Choose which version to keep before running." : "Not run: the notebook is not saved yet (it is retried).");
      return null;
    }
    const cellId = li ? Number(li.getAttribute("data-cell-id")) : null;
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
    runAllButton.disabled = true;
    cancelButton.disabled = false;
    for (const target of mode === "cell" ? [li] : cells().slice(mode === "from" ? cells().indexOf(li) : 0)) {
      if (target.getAttribute("data-kind") !== "markdown" && sourceOf(target).trim()) {
        const out = $("[data-output]", target);
        out.innerHTML = '<div class="nb-run"><div class="nb-run-head"><span class="badge badge-waiting">queued</span> <span class="muted">Queued: sent after the cells before it.</span></div></div>';
        target.setAttribute("data-key", "pending");
      }
    }
    try {
      const answer = await post(data.urls.run, { mode, cell: cellId, known: known() });
      if (answer.away) return null;
      if (answer.status === 200) applyState(answer.data);
      else {
        if (answer.data?.state) applyState(answer.data.state);
        showError(answer.data?.message || `The run failed (the server answered ${answer.status}).`);
      }
      return answer;
    } catch {
      // The request may have reached the server (the answer is what was lost): ask what runs.
      runUnsure = true;
      showError(RUN_UNSURE);
      schedulePoll();
      return null;
    } finally {
      if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
      runAllButton.disabled = false;
    }
  }

  function runCell(li, moveOn) {
    const markdown = li.getAttribute("data-kind") === "markdown";
    let next = null;
    if (moveOn) {
      next = li.nextElementSibling || insert(newCell(markdown ? "pyspark" : li.getAttribute("data-kind")), null);
      if (!next.nextElementSibling && !next.getAttribute("data-cell-id")) changed();
    }
    if (markdown) {
      setEditing(li, false);
      saveNow();
    } else {
      startRun("cell", li, $('[data-act="run"]', li));
    }
    if (next) focusCell(next);
  }

  // --------------------------------------------------------------------------- actions
  list.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-act]") : null;
    if (!button) return;
    const li = button.closest("li.nb-cell");
    const act = button.getAttribute("data-act");
    if (act === "run") { runCell(li, false); return; }
    if (act === "run-from") { startRun("from", li, button); return; }
    if (act === "edit") { setEditing(li, true); return; }
    if (act === "up" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
    else if (act === "down" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
    else if (act === "add-above") focusCell(insert(newCell(), li));
    else if (act === "add-below") focusCell(insert(newCell(), li.nextElementSibling));
    else if (act === "delete") {
      if (sourceOf(li).trim() && !window.confirm("Delete this cell? Its runs stay in the history.")) return;
      handles.get(li)?.editor?.destroy();
      li.remove();
    } else if (act === "parameters") {
      const was = li.hasAttribute("data-parameters");
      for (const other of cells()) { other.removeAttribute("data-parameters"); $("[data-parameters-badge]", other).hidden = true; }
      if (!was) {
        if (li.getAttribute("data-kind") === "markdown" || li.getAttribute("data-kind") === "sql") {
          showError("The parameters cell must be a PySpark or Scala cell.");
          return;
        }
        li.setAttribute("data-parameters", "");
        $("[data-parameters-badge]", li).hidden = false;
      }
    } else return;
    renumber();
    changed();
  });

  list.addEventListener("dblclick", (event) => {
    const rendered = event.target instanceof Element ? event.target.closest("[data-rendered]") : null;
    if (rendered) setEditing(rendered.closest("li.nb-cell"), true);
  });

  list.addEventListener("change", (event) => {
    const picker = event.target instanceof Element ? event.target.closest("[data-kind-picker]") : null;
    if (!picker) return;
    const li = picker.closest("li.nb-cell");
    const source = sourceOf(li);
    li.setAttribute("data-kind", picker.value);
    $("[data-source]", li).value = source;
    attach(li);
    if (picker.value === "markdown") setEditing(li, true);
    changed();
  });

  list.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.matches("[data-source]")) changed();
  });

  runAllButton.addEventListener("click", () => startRun("all", null, runAllButton));
  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    try {
      const answer = await post(data.urls.cancel, { known: known() });
      if (answer.away) return;
      applyState(answer.status === 200 ? answer.data : answer.data?.state);
      if (answer.status !== 200) showError(answer.data?.message || "Cancel failed.");
    } catch { showError("The server cannot be reached: nothing was cancelled."); cancelButton.disabled = false; }
  });
  $('[data-nb="add-end"]').addEventListener("click", () => { focusCell(insert(newCell(), null)); changed(); });
  $('[data-nb="take-theirs"]').addEventListener("click", takeTheirs);
  $('[data-nb="keep-mine"]').addEventListener("click", keepMine);
  window.addEventListener("beforeunload", (event) => {
    if (edits === savedEdits) return;
    writeDraft();
    if (!leaving && !signedOut) event.preventDefault();
  });
  // Leaving for good (or for the back/forward cache): the copy is marked as left, so another tab
  // takes it over; back from the cache, it is this tab's again.
  window.addEventListener("pagehide", () => { if (edits !== savedEdits) writeDraft(true); });
  window.addEventListener("pageshow", (event) => { if (event.persisted && edits !== savedEdits) writeDraft(); });
  // An open tab's unsaved copy is refreshed now and then, so it never looks left behind.
  setInterval(() => { if (edits !== savedEdits) writeDraft(); }, DRAFT_REFRESH);

  // ------------------------------------------------------------------------------ start
  for (const li of cells()) attach(li);
  renumber();
  const found = findDraft();
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  if (found && !same(found.draft.cells, snapshot())) {
    // Typed here (or in a tab since closed) and not saved: restore it, and save it (a 409 shows
    // what changed meanwhile). A copy taken over from another tab becomes this tab's.
    const { key, draft } = found;
    rebuild(draft.cells);
    version = draft.base;
    edits += 1;
    writeDraft();
    if (key !== draftKey) { try { store.removeItem(key); } catch { /* ignore */ } }
    showSave("saving", "Restored your unsaved changes: saving…");
    saveNow();
  } else if (found) { try { store.removeItem(found.key); } catch { /* ignore */ } }
  applyState(runState);
  for (const li of cells()) enhanceOutputs($("[data-output]", li));
  startTicking();

  return {
    saveNow,
    state: () => ({ version, edits, savedEdits, conflict: !!conflict, save: stateEl.textContent, draftKey,
                    signedOut }),
    cells: snapshot,
  };
}
