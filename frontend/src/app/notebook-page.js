/**
 * @module notebook-page
 *
 * The owner's notebook page (templates/livy/notebooks/page.html): cells in order, each with its
 * own editor (code-editor.js: CodeMirror, or the textarea with the same keys), a language
 * picker, Run (Ctrl/Cmd+Enter), Shift+Enter (run and move to the next cell, creating one at the
 * end), add above/below, move up/down, delete, the parameters mark; Run all, Run from here,
 * Cancel all; markdown rendered by the server (edit on double-click or Edit).
 *
 * Saving: every change is kept in localStorage at once (key data.draft_key, under the drafts
 * prefix so sign-out removes it) and saved ~1 s after the last keystroke through the versioned
 * save (POST urls.save {version, cells}); the state reads "Saved", "Saving…" or "Not saved:
 * <reason> (retrying)" (network errors and 5xx are retried with backoff: 1, 2, 4 … 30 s). A 409
 * (another tab saved first) shows theirs vs yours: "Reload theirs" or "Keep mine" (save over
 * theirs). The local copy is dropped only once the server has everything typed; on reload a
 * local copy the server does not have is restored and saved.
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

/** Milliseconds after the last change before it is saved. */
export const SAVE_DELAY = 1000;
const RETRY_MAX = 30000;
const POLL_DELAY = 400;

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON (a proxy's error page) */ }
  return { status: response.status, data };
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

  // ---------------------------------------------------------------------------- status
  function showSave(state, text) {
    stateEl.setAttribute("data-state", state);
    stateEl.textContent = text;
  }
  function showError(message) {
    errorEl.hidden = !message;
    errorEl.textContent = message || "";
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
  function writeDraft() {
    if (!store) return;
    try { store.setItem(data.draft_key, JSON.stringify({ base: version, cells: snapshot(), at: Date.now() })); }
    catch { /* storage full or off: the server save still runs */ }
  }
  function dropDraft() {
    try { store?.removeItem(data.draft_key); } catch { /* ignore */ }
  }
  function readDraft() {
    try {
      const value = JSON.parse(store?.getItem(data.draft_key) || "null");
      return value && Array.isArray(value.cells) ? value : null;
    } catch { return null; }
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
      try { answer = await postJSON(data.urls.save, body); }
      catch { retryLater("the server cannot be reached"); return false; }
      const { status, data: reply } = answer;
      if (status === 200 && reply) {
        version = reply.version;
        retryDelay = 1000;
        reply.cells.forEach((c, i) => {
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
    if (polling) return;
    polling = setTimeout(async () => {
      let answer = null;
      try { answer = await postJSON(data.urls.poll, { known: known() }); } catch { answer = null; }
      polling = null;
      if (answer && answer.status === 200) {
        pollFailures = 0;
        showError("");
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
    if (!(await saveNow())) {
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
      const answer = await postJSON(data.urls.run, { mode, cell: cellId, known: known() });
      if (answer.status === 200) applyState(answer.data);
      else {
        if (answer.data?.state) applyState(answer.data.state);
        showError(answer.data?.message || `The run failed (the server answered ${answer.status}).`);
      }
      return answer;
    } catch {
      showError("The server cannot be reached: nothing was run. Your cells are kept.");
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
      const answer = await postJSON(data.urls.cancel, { known: known() });
      applyState(answer.status === 200 ? answer.data : answer.data?.state);
      if (answer.status !== 200) showError(answer.data?.message || "Cancel failed.");
    } catch { showError("The server cannot be reached: nothing was cancelled."); cancelButton.disabled = false; }
  });
  $('[data-nb="add-end"]').addEventListener("click", () => { focusCell(insert(newCell(), null)); changed(); });
  $('[data-nb="take-theirs"]').addEventListener("click", takeTheirs);
  $('[data-nb="keep-mine"]').addEventListener("click", keepMine);
  window.addEventListener("beforeunload", (event) => {
    if (edits !== savedEdits) { writeDraft(); event.preventDefault(); }
  });

  // ------------------------------------------------------------------------------ start
  for (const li of cells()) attach(li);
  renumber();
  const draft = readDraft();
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  if (draft && !same(draft.cells, snapshot())) {
    // Typed here before and not saved: restore it, and save it (a 409 shows what changed meanwhile).
    rebuild(draft.cells);
    version = draft.base;
    edits += 1;
    showSave("saving", "Restored your unsaved changes: saving…");
    saveNow();
  } else if (draft) dropDraft();
  applyState(runState);
  for (const li of cells()) enhanceOutputs($("[data-output]", li));
  startTicking();

  return {
    saveNow,
    state: () => ({ version, edits, savedEdits, conflict: !!conflict, save: stateEl.textContent }),
    cells: snapshot,
  };
}
