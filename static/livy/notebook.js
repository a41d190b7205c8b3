// Livy web: everything the pages do in the browser. Loaded on every page (defer), no inline
// script anywhere, no eval: works under "script-src 'self'".
//
// * Delta polling: #live (templates/livy/_page.html) is rendered once; while its data-live is
//   "true", this script asks data-live-url (GET, reads only) or, while the owner has statements
//   queued, data-dispatch-url (POST, sends them) for a delta (templates/livy/_delta.html):
//   ?open=<pks the page shows unfinished>&after=<largest pk on the page>. The answer carries the
//   session bar, those statements' current render (without their code) and the newer ones.
//   Polling is adaptive: ~75 ms after an action, then x1.5 per poll up to data-poll-cap seconds
//   (LIVY_POLL_INTERVAL); it stops when nothing is unfinished, pauses while the tab is hidden,
//   and never has two requests in flight (an action aborts the poll in flight).
// * Forms marked data-delta are posted here (with HX-Request, so the server answers a delta)
//   instead of navigating; without JavaScript they post normally and the server redirects.
// * The editor (vendored CodeMirror, window.LivyEditor) on the Run form's textarea, with the
//   language from the kind selector; Ctrl/Cmd+Enter runs, Shift+Enter runs and clears; one Run
//   at a time; the draft (code and kind) is kept in localStorage per user and removed on
//   sign-out and on any signed-out page.
// * Completion from Livy (data-complete-url, for the kinds in data-complete-kinds).
// * Elapsed times tick ([data-since]); results: charts (Chart.js, loaded on first use), long
//   outputs folded, "Copy to editor"; the Livy status line; the keep-alive heartbeat (Fabric).
(function () {
  "use strict";

  var DRAFT_PREFIX = "livy-draft-";
  var FIRST_POLL_MS = 75;      // first look after an action
  var PAGE_POLL_MS = 250;      // first look after the page loaded
  var BACKOFF = 1.5;
  var COLLAPSE_PX = 520;       // outputs taller than this are folded

  // ------------------------------------------------------------------------ helpers
  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function store(kind) { try { return window[kind]; } catch (e) { return null; } }

  function csrfToken() {
    var input = $("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  var clockOffset = 0; // server time minus browser time, ms
  function serverNow() { return Date.now() + clockOffset; }
  function readClock(el) {
    var now = +(el && el.getAttribute("data-now"));
    if (now > 0) clockOffset = now - Date.now();
  }

  function durationText(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  // ------------------------------------------------------------------------ drafts
  function clearDrafts() {
    var s = store("localStorage");
    if (!s) return;
    var keys = [];
    for (var i = 0; i < s.length; i++) {
      var key = s.key(i);
      if (key && key.indexOf(DRAFT_PREFIX) === 0) keys.push(key);
    }
    keys.forEach(function (key) { s.removeItem(key); });
  }

  function loadDraft(key) {
    var s = store("localStorage");
    var raw = s && s.getItem(key);
    if (!raw) return null;
    try {
      var value = JSON.parse(raw);
      if (value && typeof value.code === "string") return value;
    } catch (e) { /* an old plain-text draft */ }
    return { code: raw, kind: "" };
  }

  function saveDraft(key, code, kind) {
    var s = store("localStorage");
    if (!s || !key) return;
    try {
      if (code) s.setItem(key, JSON.stringify({ code: code, kind: kind }));
      else s.removeItem(key);
    } catch (e) { /* storage full or off */ }
  }

  // ------------------------------------------------------------------------ ticking times
  function tick() {
    var now = serverNow();
    $all("[data-since]").forEach(function (el) {
      var since = +el.getAttribute("data-since");
      if (!(since > 0)) return;
      var text = durationText(now - since);
      if (el.textContent !== text) el.textContent = text;
    });
  }

  // ------------------------------------------------------------------------ requests
  function send(url, options) {
    var headers = { "HX-Request": "true", "HX-Current-URL": window.location.href };
    if (options.method === "POST") headers["X-CSRFToken"] = csrfToken();
    return fetch(url, {
      method: options.method, body: options.body, signal: options.signal,
      headers: headers, credentials: "same-origin", cache: "no-store",
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) { window.location.href = redirect; return null; }
      if (!response.ok) {
        var error = new Error("the server answered " + response.status);
        error.status = response.status;
        throw error;
      }
      return response.text();
    });
  }

  // ------------------------------------------------------------------------ live page
  var live = null;
  var list = null;
  var poller = { timer: null, inflight: null, actions: 0, delay: 0, cap: 1000, polls: 0 };

  function isLive() { return !!live && live.getAttribute("data-live") === "true"; }
  function after() { return live.getAttribute("data-after") || "0"; }
  function openPks() {
    return $all("li.statement[data-open='1']", list).map(function (li) { return li.id.replace("statement-", ""); });
  }

  function schedule(ms) {
    clearTimeout(poller.timer);
    poller.timer = null;
    if (!isLive() || document.visibilityState === "hidden") return; // visibilitychange resumes
    poller.timer = setTimeout(poll, ms);
  }

  function backoff() {
    poller.delay = Math.min(Math.max(poller.delay, FIRST_POLL_MS) * BACKOFF, poller.cap);
    return poller.delay;
  }

  function kick(ms) {
    poller.delay = ms || FIRST_POLL_MS;
    schedule(poller.delay);
  }

  function abortPoll() {
    clearTimeout(poller.timer);
    poller.timer = null;
    if (poller.inflight) { poller.inflight.abort(); poller.inflight = null; }
  }

  function poll() {
    poller.timer = null;
    if (poller.inflight || poller.actions || !isLive() || document.visibilityState === "hidden") return;
    var params = new URLSearchParams();
    params.set("open", openPks().join(","));
    params.set("after", after());
    if (live.getAttribute("data-stamp")) params.set("stamp", live.getAttribute("data-stamp"));
    var controller = typeof AbortController === "function" ? new AbortController() : { abort: function () {}, signal: undefined };
    poller.inflight = controller;
    poller.polls++;
    var dispatchUrl = live.getAttribute("data-dispatch-url");
    var request = dispatchUrl
      ? send(dispatchUrl, { method: "POST", body: params, signal: controller.signal })
      : send(live.getAttribute("data-live-url") + "?" + params.toString(), { method: "GET", signal: controller.signal });
    request.then(function (html) {
      if (poller.inflight !== controller) return;
      poller.inflight = null;
      if (html === "") { live.setAttribute("data-live", "false"); return; } // 204: nothing changed, nothing runs
      if (html != null) apply(html);
      // A POST poll that just sent the queued statements (the session became ready): look
      // again soon, as after a Run, rather than after the backed-off delay.
      if (dispatchUrl && !live.getAttribute("data-dispatch-url")) { kick(); return; }
      schedule(backoff());
    }).catch(function (error) {
      if (poller.inflight !== controller) return;
      poller.inflight = null;
      if (error && error.name === "AbortError") return;
      notice("The page could not reach the server (" + (error && error.message) + "); it keeps trying.", "poll");
      schedule(backoff());
    });
  }

  function notice(text, source) {
    var box = $("#notices");
    if (!box) return;
    $all("[data-source='" + source + "']", box).forEach(function (el) { el.remove(); });
    var p = document.createElement("p");
    p.className = "notice notice-error";
    p.setAttribute("role", "alert");
    p.setAttribute("data-source", source);
    p.textContent = text;
    box.appendChild(p);
  }

  function applyNotices(fresh, source) {
    var box = $("#notices");
    if (!box || !fresh) return;
    var incoming = $all("p", fresh);
    // An action's answer replaces every notice; a poll's replaces only the polls' (so an
    // action's message stays until the next action).
    $all(source === "action" ? "p" : "[data-source='poll']", box).forEach(function (el) { el.remove(); });
    incoming.forEach(function (p) { p.setAttribute("data-source", source); box.appendChild(p); });
  }

  // Keep keyboard focus on the same control when its statement (or the bar) is re-rendered.
  function focusMarker(container) {
    var active = document.activeElement;
    if (!active || !container.contains(active)) return null;
    var form = active.closest("form");
    if (form) return "form[action='" + form.getAttribute("action") + "'] button";
    if (active.hasAttribute("data-copy")) return "[data-copy]";
    return "";
  }
  function restoreFocus(container, marker) {
    if (marker === null) return;
    var target = marker ? container.querySelector(marker) : null;
    if (!target) { container.setAttribute("tabindex", "-1"); target = container; }
    target.focus({ preventScroll: true });
  }

  function swapStatement(fresh) {
    var old = document.getElementById(fresh.id);
    if (!old) return false;
    var key = fresh.outerHTML;
    if (old.__livyKey === key) return false; // nothing changed: no DOM work, no layout
    var omitted = $("pre.code[data-omitted]", fresh);
    var code = $("pre.code", old);
    if (omitted && code) omitted.replaceWith(code);
    var marker = focusMarker(old);
    fresh.__livyKey = key;
    old.replaceWith(fresh);
    restoreFocus(fresh, marker);
    enhance(fresh);
    return true;
  }

  var barKey = "";
  function swapBar(fresh) {
    var old = $("#session-bar");
    if (!old) return;
    var key = fresh.outerHTML;
    if (key === barKey) return;
    barKey = key;
    var marker = focusMarker(old);
    old.replaceWith(fresh);
    restoreFocus(fresh, marker);
    setupBar();
  }

  function setupBar() {
    var bar = $("#session-bar");
    if (!bar) return;
    keepAlive(bar.getAttribute("data-keepalive-url"), +bar.getAttribute("data-keepalive-interval"));
  }

  function apply(html, options) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var delta = template.content.querySelector("#delta");
    if (!delta || !live) return null;
    readClock(delta);
    live.setAttribute("data-live", delta.getAttribute("data-live") || "false");
    live.setAttribute("data-stamp", delta.getAttribute("data-stamp") || "");
    live.setAttribute("data-after", String(Math.max(+after(), +delta.getAttribute("data-after") || 0)));
    var dispatch = delta.getAttribute("data-dispatch-url");
    if (dispatch) live.setAttribute("data-dispatch-url", dispatch); else live.removeAttribute("data-dispatch-url");
    applyNotices($("#delta-notices", delta), delta.getAttribute("data-source") || "poll");
    var bar = $("#session-bar", delta);
    if (bar) swapBar(bar);
    $all("#delta-updated > li", delta).forEach(swapStatement);

    var added = [];
    var pendingDivider = null;
    $all("#delta-new > li", delta).forEach(function (li) {
      if (li.classList.contains("session-divider")) { pendingDivider = li; return; }
      if (document.getElementById(li.id)) { swapStatement(li); pendingDivider = null; return; }
      if (pendingDivider) { list.appendChild(pendingDivider); pendingDivider = null; }
      li.__livyKey = null;
      list.appendChild(li);
      added.push(li);
    });
    if (added.length) {
      var empty = $("#no-statements");
      if (empty) empty.remove();
      // The newest error's traceback is open; older ones fold.
      $all("details[data-auto-open]", list).forEach(function (d) {
        if (added.indexOf(d.closest("li.statement")) < 0) { d.open = false; d.removeAttribute("data-auto-open"); }
      });
      added.forEach(enhance);
    }
    tick();
    return { added: added, notices: +delta.getAttribute("data-notices") || 0 };
  }

  // ------------------------------------------------------------------------ forms
  function setBusy(button, busy, label) {
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

  function postForm(form, button, busyLabel, data) {
    var body = new URLSearchParams(data || new FormData(form));
    body.set("open", openPks().join(","));
    body.set("after", after());
    abortPoll();
    poller.actions++;
    setBusy(button, true, busyLabel);
    return send(form.getAttribute("action"), { method: "POST", body: body }).then(function (html) {
      return html == null ? null : apply(html, { action: true });
    }).catch(function (error) {
      notice("Your request did not reach the server (" + (error && error.message) + "). Try again.", "action");
      return null;
    }).then(function (result) {
      poller.actions--;
      setBusy(button, false);
      kick();
      return result;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.id === "sign-out-form") { clearDrafts(); return; }
    if (!form.hasAttribute("data-delta") || !live) return;
    event.preventDefault();
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    if (form.hasAttribute("data-run")) { run(false); return; }
    postForm(form, event.submitter || $("button", form));
  });

  // ------------------------------------------------------------------------ editor
  var editor = null;
  var runForm = null;
  var running = false;

  function codeField() { return runForm && $("textarea", runForm); }
  function kindField() { return runForm && $("select[name=kind]", runForm); }
  function currentKind() { var k = kindField(); return k ? k.value : "pyspark"; }
  function saveRunDraft() {
    var field = codeField();
    if (field) saveDraft(runForm.getAttribute("data-draft-key"), field.value, currentKind());
  }
  function setCode(code) {
    if (editor) editor.setValue(code);
    else { var field = codeField(); field.value = code; field.dispatchEvent(new Event("input", { bubbles: true })); }
  }
  function setKind(kind) {
    var select = kindField();
    if (!select || !$("option[value='" + kind + "']", select)) return;
    select.value = kind;
    if (editor) { try { editor.setLanguage(kind); } catch (e) { /* not an editor language */ } }
  }

  // Run the editor's code: one Run at a time (Ctrl+Enter twice sends one statement).
  function run(clear) {
    if (running || !runForm) return;
    var field = codeField();
    var code = field.value;
    running = true;
    var button = $("#run-button");
    var data = new FormData(runForm); // taken before Shift+Enter clears the editor
    if (clear) { if (editor) editor.clear(); else setCode(""); }
    postForm(runForm, button, "Running…", data).then(function (result) {
      running = false;
      if (clear && (!result || result.notices) && !codeField().value) setCode(code); // not run: keep it
      if (result && result.added.length) {
        result.added[result.added.length - 1].scrollIntoView({ block: "nearest" });
      }
      saveRunDraft();
    });
  }

  function complete(code, cursor, kind, signal) {
    var url = runForm.getAttribute("data-complete-url");
    var kinds = (runForm.getAttribute("data-complete-kinds") || "").split(",");
    if (!url || kinds.indexOf(kind) < 0) return Promise.resolve(null);
    var body = new URLSearchParams();
    body.set("code", code);
    body.set("cursor", String(cursor));
    body.set("kind", kind);
    return fetch(url, {
      method: "POST", body: body, signal: signal, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) { return answer && Array.isArray(answer.candidates) ? answer.candidates : null; })
      .catch(function () { return null; });
  }

  function setupEditor() {
    runForm = $("#run-form");
    if (!runForm) return;
    var field = codeField();
    var select = kindField();
    var key = runForm.getAttribute("data-draft-key");
    if (!field) return;
    if (!field.value) {
      var draft = key ? loadDraft(key) : null;
      if (draft) { field.value = draft.code; if (draft.kind) setKind(draft.kind); }
    } else {
      saveRunDraft(); // code put there by the server (a failed run, "Copy to editor"): keep it
    }
    if (window.LivyEditor) {
      var language = currentKind();
      try {
        editor = window.LivyEditor.create(field, {
          language: ["pyspark", "sql", "spark"].indexOf(language) >= 0 ? language : "pyspark",
          onRun: function () { run(false); },
          onRunAndClear: function () { run(true); },
          complete: runForm.getAttribute("data-complete-url") ? complete : undefined,
        });
      } catch (e) { editor = null; }
    }
    if (!editor) {
      // No editor bundle: the plain textarea, with the same keys.
      field.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") return;
        if (event.ctrlKey || event.metaKey) { event.preventDefault(); run(false); }
        else if (event.shiftKey) { event.preventDefault(); run(true); }
      });
    }
    field.addEventListener("input", saveRunDraft);
    if (select) select.addEventListener("change", function () { setKind(select.value); saveRunDraft(); });
    window.LivyNotebook.editor = editor;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var copy = target.closest("[data-copy]");
    if (copy && runForm) {
      var li = copy.closest("li.statement");
      var code = $("pre.code", li);
      setKind(li.getAttribute("data-kind") || "pyspark");
      setCode(code ? code.textContent : "");
      saveRunDraft();
      runForm.scrollIntoView({ block: "nearest" });
      if (editor) editor.focus(); else codeField().focus();
      return;
    }
    var chart = target.closest("[data-chart-toggle]");
    if (chart) { toggleChart(chart); return; }
    var fold = target.closest("[data-output-toggle]");
    if (fold) {
      var out = fold.previousElementSibling;
      var folded = out.classList.toggle("collapsed");
      fold.setAttribute("aria-expanded", String(!folded));
      fold.textContent = folded ? "Show the whole output" : "Fold the output";
    }
  });

  // ------------------------------------------------------------------------ results
  function enhance(root) {
    if (runForm) $all("[data-copy]", root).forEach(function (b) { b.hidden = false; });
    $all("[data-chart-toggle]", root).forEach(function (b) { b.hidden = false; });
    $all(".output", root).forEach(function (out) {
      if (out.hasAttribute("data-fold-checked")) return;
      out.setAttribute("data-fold-checked", "");
      if (out.scrollHeight <= COLLAPSE_PX + 120) return;
      out.classList.add("collapsible", "collapsed");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "small output-toggle";
      button.setAttribute("data-output-toggle", "");
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show the whole output";
      out.insertAdjacentElement("afterend", button);
    });
  }

  var chartLoading = null;
  function loadChart() {
    if (window.Chart) return Promise.resolve();
    if (!chartLoading) {
      chartLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = document.body.getAttribute("data-chart-src");
        script.onload = resolve;
        script.onerror = function () { chartLoading = null; reject(new Error("the chart library did not load")); };
        document.head.appendChild(script);
      });
    }
    return chartLoading;
  }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function labelled(text, control) {
    var label = document.createElement("label");
    label.textContent = text + " ";
    label.appendChild(control);
    return label;
  }

  function toggleChart(button) {
    var box = button.closest(".out-table");
    var panel = $(".chart-panel", box);
    if (panel) {
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
      return;
    }
    button.disabled = true;
    loadChart().then(function () {
      button.disabled = false;
      button.setAttribute("aria-expanded", "true");
      buildChart(box);
    }).catch(function (error) { button.disabled = false; notice(error.message, "action"); });
  }

  function buildChart(box) {
    var heads = $all("thead th", box).map(function (th) {
      var name = $(".col-name", th);
      return { name: name ? name.textContent : th.textContent, numeric: th.hasAttribute("data-numeric") };
    });
    var rows = $all("tbody tr", box).map(function (tr) {
      return $all("td", tr).map(function (td) { return td.classList.contains("null") ? null : td.textContent; });
    });
    var panel = document.createElement("div");
    panel.className = "chart-panel";
    var controls = document.createElement("div");
    controls.className = "chart-controls";
    var type = document.createElement("select");
    type.setAttribute("data-chart-type", "");
    type.appendChild(option("bar", "Bar"));
    type.appendChild(option("line", "Line"));
    var x = document.createElement("select");
    x.setAttribute("data-chart-x", "");
    var y = document.createElement("select");
    y.setAttribute("data-chart-y", "");
    heads.forEach(function (h, i) {
      x.appendChild(option(String(i), h.name));
      if (h.numeric) y.appendChild(option(String(i), h.name));
    });
    var firstText = heads.findIndex(function (h) { return !h.numeric; });
    x.value = String(firstText >= 0 ? firstText : 0);
    var firstNumber = heads.findIndex(function (h, i) { return h.numeric && String(i) !== x.value; });
    if (firstNumber < 0) firstNumber = heads.findIndex(function (h) { return h.numeric; });
    y.value = String(firstNumber);
    controls.appendChild(labelled("Chart", type));
    controls.appendChild(labelled("x", x));
    controls.appendChild(labelled("y", y));
    var frame = document.createElement("div");
    frame.className = "chart-box";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    frame.appendChild(canvas);
    var note = document.createElement("p");
    note.className = "muted";
    note.textContent = "Drawn from the " + rows.length + " row" + (rows.length === 1 ? "" : "s") + " shown.";
    panel.appendChild(controls);
    panel.appendChild(frame);
    panel.appendChild(note);
    $(".table-foot", box).insertAdjacentElement("afterend", panel);

    var chart = null;
    function draw() {
      var xi = +x.value, yi = +y.value;
      var labels = rows.map(function (r) { return r[xi] == null ? "null" : r[xi]; });
      var values = rows.map(function (r) { var v = r[yi]; return v == null || v === "" ? null : Number(v); });
      canvas.setAttribute("aria-label", type.value + " chart of " + heads[yi].name + " by " + heads[xi].name);
      if (chart) chart.destroy();
      chart = new window.Chart(canvas, {
        type: type.value,
        data: { labels: labels, datasets: [{ label: heads[yi].name, data: values }] },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
                   plugins: { legend: { display: false } } },
      });
    }
    [type, x, y].forEach(function (s) { s.addEventListener("change", draw); });
    draw();
  }

  // ------------------------------------------------------------------------ heartbeat
  var keepAliveTimer = null;
  var keepAliveUrl = null;
  function keepAlive(url, seconds) {
    if (url === keepAliveUrl) return;
    clearInterval(keepAliveTimer);
    keepAliveTimer = null;
    keepAliveUrl = url;
    if (!url || !(seconds > 0)) return;
    keepAliveTimer = setInterval(function () {
      if (document.visibilityState !== "visible") return;
      send(url, { method: "POST", body: new URLSearchParams() }).catch(function () { /* logged by the server */ });
    }, seconds * 1000);
  }

  // ------------------------------------------------------------------------ start
  function setupLive() {
    live = $("#live");
    if (!live) return;
    list = $("#statements", live);
    readClock(live);
    poller.cap = Math.max(200, (+live.getAttribute("data-poll-cap") || 1) * 1000);
    $all("li.statement", list).forEach(function (li) { li.__livyKey = null; });
    setupBar();
    enhance(live);
    var status = $("#livy-status");
    if (status && status.getAttribute("data-status-url")) {
      status.hidden = false;
      send(status.getAttribute("data-status-url"), { method: "GET" })
        .then(function (html) { if (html != null) status.innerHTML = html; })
        .catch(function () { status.textContent = "Livy's status could not be read."; });
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { if (!poller.inflight && !poller.timer) kick(FIRST_POLL_MS); }
      else { clearTimeout(poller.timer); poller.timer = null; }
    });
    setInterval(tick, 1000);
    tick();
    kick(PAGE_POLL_MS);
  }

  function setup() {
    window.LivyNotebook = { poller: poller, editor: null, clearDrafts: clearDrafts };
    if (document.body.getAttribute("data-signed-in") === "false") clearDrafts();
    setupEditor(); // first: the statements' "Copy to editor" buttons show only with an editor
    setupLive();
    window.LivyNotebook.readyAt = performance.now();
    document.documentElement.setAttribute("data-notebook-ready", "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
