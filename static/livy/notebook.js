// Notebook behaviour: Ctrl/Cmd+Enter runs the editor's code, Tab indents, the code being
// written is kept in this browser (localStorage, per user) so a reload or a sign-in round trip
// loses nothing, and a new statement is scrolled into view.
(function () {
  "use strict";

  function setup() {
    var form = document.getElementById("run-form");
    if (!form) return;
    var editor = form.querySelector("textarea");
    var key = form.getAttribute("data-draft-key");

    if (editor && key && !editor.value) {
      try { editor.value = window.localStorage.getItem(key) || ""; } catch (e) { /* storage off */ }
    }
    if (editor && key) {
      editor.addEventListener("input", function () {
        try { window.localStorage.setItem(key, editor.value); } catch (e) { /* storage off */ }
      });
    }
    if (editor) {
      editor.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
        }
        if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
          // Indent with four spaces instead of leaving the editor.
          event.preventDefault();
          var start = editor.selectionStart, end = editor.selectionEnd;
          editor.setRangeText("    ", start, end, "end");
          editor.dispatchEvent(new Event("input"));
        }
      });
    }
  }

  // After Run, bring the new statement into view (it is appended at the end of the list).
  document.addEventListener("htmx:afterSwap", function (event) {
    var source = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!source || source.id !== "run-form") return;
    var items = document.querySelectorAll("#statements > li");
    if (items.length) items[items.length - 1].scrollIntoView({ block: "nearest", behavior: "smooth" });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
