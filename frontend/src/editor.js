// Entry of static/livy/vendor/codemirror-bundle.min.js (built by scripts/build-frontend.sh).
//
// Exposes window.LivyEditor:
//
//   var handle = LivyEditor.create(textarea, {
//     language: "pyspark" | "sql" | "spark",   // spark = Scala; default "pyspark"
//     onRun: function () {},                   // Ctrl+Enter and Cmd+Enter
//     onRunAndClear: function () {},           // Shift+Enter (the caller clears, e.g. handle.clear())
//     complete: async function (code, cursor, kind, signal) { return ["range", ...]; },
//     onChange: function (code) {},            // every document change
//     placeholder: "…",                        // default: the textarea's placeholder attribute
//     ariaLabel: "…",                          // default: textarea's aria-label or its <label> text
//   });
//   handle.getValue(); handle.setValue(code); handle.focus(); handle.setLanguage(kind);
//   handle.clear(); handle.destroy(); handle.view (the CodeMirror EditorView);
//   handle.textarea (the original element)
//
// The <textarea> is hidden and the editor inserted right after it. textarea.value is kept equal
// to the editor's text on every change, and an "input" event is dispatched on the textarea, so
// ordinary form submission and existing "input" listeners keep working. A form
// "reset" puts the textarea's reset value back into the editor. create() on a textarea that
// already has an editor returns the existing handle.
//
// Keys: Tab / Shift+Tab indent / dedent (indentWithTab). To leave the editor with the keyboard,
// press Escape and then Tab (or Shift+Tab) within two seconds; Ctrl+M (Shift+Alt+M on macOS)
// toggles "Tab moves focus" mode. Ctrl+Space opens completion explicitly.
//
// Completion: `complete(code, cursor, kind, signal)` is called ~250 ms after typing stops,
// with the whole text, the cursor offset (UTF-16 code units) and the current language kind; the
// optional 4th argument is an AbortSignal fired when the answer is no longer wanted. It returns
// candidate strings (Livy's answer: the completion of the last token after a dot, e.g. "range"
// for "spark.ran"); they replace the word after the last dot. null, a non-array or an
// exception shows nothing. Without `complete`, the languages' built-in keyword completion is used.
//
// No eval / new Function; CodeMirror injects <style> elements (needs style-src 'unsafe-inline').

import { EditorState, Compartment, Prec } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection, placeholder as placeholderExt,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput, indentUnit,
  StreamLanguage,
} from "@codemirror/language";
import {
  autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap,
} from "@codemirror/autocomplete";
import { python } from "@codemirror/lang-python";
import { sql, SQLDialect } from "@codemirror/lang-sql";
import { scala } from "@codemirror/legacy-modes/mode/clike";

var VERSION = "1";

// ---------------------------------------------------------------- languages

// Spark SQL (keyword list after Spark's SQL reference), `backtick` identifiers, backslash escapes,
// "double-quoted" strings.
var SPARK_SQL_KEYWORDS = [
  "add after all alter analyze and anti any archive array as asc at authorization between both",
  "bucket buckets by cache cascade case cast change check clear cluster clustered codegen collate",
  "collection column columns comment commit compact compactions compute concatenate constraint",
  "cost create cross cube current current_date current_time current_timestamp current_user data",
  "database databases day dbproperties default defined delete delimited desc describe dfs",
  "directories directory distinct distribute div drop else end escape escaped except exchange",
  "exists explain export extended external extract false fetch fields fileformat filter first",
  "following for foreign format formatted from full function functions global grant group",
  "grouping having hour if ignore ilike import in index indexes inner inpath inputformat insert",
  "intersect interval into is items join keys last lateral lazy leading left like limit lines",
  "list load local location lock locks logical macro map matched merge minute minus month msck",
  "namespace namespaces natural no not null nulls of on only option options or order out outer",
  "outputformat over overlaps overlay overwrite partition partitioned partitions percent pivot",
  "placing position preceding primary principals properties purge qualify query range",
  "recordreader recordwriter recover reduce references refresh regexp rename repair replace",
  "reset respect restrict revoke right rlike role roles rollback rollup row rows schema schemas",
  "second select semi separated serde serdeproperties session_user set sets show skewed some",
  "sort sorted start statistics stored stratify struct substr substring sync table tables",
  "tablesample tblproperties temp temporary terminated then time to touch trailing transaction",
  "transactions transform trim true truncate try_cast type unarchive unbounded uncache union",
  "unique unknown unlock unpivot unset update use user using values view views when where window",
  "with within year zone",
].join(" ");
var SPARK_SQL_TYPES = "array bigint binary boolean byte char date dec decimal double float int " +
  "integer long map numeric real short smallint string struct timestamp timestamp_ltz " +
  "timestamp_ntz tinyint varchar void";
var SparkSQL = SQLDialect.define({
  keywords: SPARK_SQL_KEYWORDS,
  types: SPARK_SQL_TYPES,
  builtin: "",
  identifierQuotes: "`",
  backslashEscapes: true,
  doubleQuotedStrings: true,
  caseInsensitiveIdentifiers: true,
});

var scalaLanguage = StreamLanguage.define(scala);

var KINDS = { pyspark: "pyspark", python: "pyspark", sql: "sql", sparksql: "sql", spark: "spark", scala: "spark" };

function normalizeKind(kind) {
  var k = KINDS[String(kind == null ? "pyspark" : kind).toLowerCase()];
  if (!k) throw new Error("LivyEditor: unknown language " + JSON.stringify(kind) + " (pyspark, sql or spark)");
  return k;
}

function languageExtension(kind) {
  if (kind === "sql") return [sql({ dialect: SparkSQL, upperCaseKeywords: false }), indentUnit.of("  ")];
  if (kind === "spark") return [scalaLanguage, indentUnit.of("  ")];
  return [python(), indentUnit.of("    ")];
}

// ---------------------------------------------------------------- theme

var theme = EditorView.theme({
  "&": {
    border: "1px solid #b7bcc4",
    borderRadius: "4px",
    backgroundColor: "#fff",
    color: "#1f2328",
    fontSize: "14px",
    maxHeight: "60vh",
  },
  "&.cm-focused": { outline: "2px solid #2f6fde", outlineOffset: "-1px" },
  ".cm-scroller": {
    overflow: "auto",
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace",
    lineHeight: "1.45",
  },
  // About ten lines before it grows; then grows with the content up to 60vh and scrolls.
  ".cm-content, .cm-gutter": { minHeight: "14.5em" },
  ".cm-content": { caretColor: "#1f2328", padding: "6px 0" },
  ".cm-gutters": { backgroundColor: "#f5f6f8", color: "#6e7781", borderRight: "1px solid #dfe2e6" },
  ".cm-activeLine": { backgroundColor: "#eef4ff" },
  ".cm-activeLineGutter": { backgroundColor: "#e1e9f8", color: "#1f2328" },
  ".cm-placeholder": { color: "#6e7781" },
  "&.cm-focused .cm-matchingBracket": { backgroundColor: "#cfe3cf", outline: "1px solid #8fbf8f" },
  "&.cm-focused .cm-nonmatchingBracket": { backgroundColor: "#f6d2d2" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul": { fontFamily: "inherit", maxHeight: "16em" },
}, { dark: false });

// ---------------------------------------------------------------- completion

var WORD_BEFORE = /[\w.]*/;
var VALID_FOR = /^\w*$/;

function livyCompletionSource(getOptions, getKind) {
  return async function (context) {
    var complete = getOptions().complete;
    if (typeof complete !== "function") return null;
    var word = context.matchBefore(WORD_BEFORE);
    if (!word) return null;
    var dot = word.text.lastIndexOf(".");
    if (!context.explicit) {
      if (!word.text) return null;            // nothing typed at the cursor
      if (/^\d/.test(word.text)) return null; // a number such as 1.5
    }
    var from = word.from + dot + 1;
    var qualifier = dot >= 0 ? word.text.slice(0, dot + 1) : "";

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    // Abort (and let CodeMirror ask again after the typing delay) when the text changes.
    context.addEventListener("abort", function () { if (controller) controller.abort(); }, { onDocChange: true });

    var candidates;
    try {
      candidates = await complete(context.state.doc.toString(), context.pos, getKind(),
                                  controller ? controller.signal : undefined);
    } catch (e) {
      return null;
    }
    if (context.aborted || !Array.isArray(candidates)) return null;
    // The answer came after the user left this editor (another cell, a button): no popup in an
    // editor nobody types in (it would stay open there, over the outputs, until it is focused).
    if (context.view && !context.view.hasFocus) return null;

    var seen = Object.create(null), options = [];
    for (var i = 0; i < candidates.length; i++) {
      var c = candidates[i];
      if (typeof c !== "string" || !c) continue;
      // Tolerate full paths ("spark.range") as well as Livy's last-token answers ("range").
      if (qualifier && c.length > qualifier.length && c.slice(0, qualifier.length) === qualifier) c = c.slice(qualifier.length);
      if (seen[c]) continue;
      seen[c] = true;
      options.push({ label: c, type: /\($/.test(c) ? "function" : undefined });
    }
    if (!options.length) return null;
    // Candidates are offered even when they do not start with what was typed (Livy decides).
    return { from: from, to: context.pos, options: options, validFor: VALID_FOR };
  };
}

// ---------------------------------------------------------------- create

function labelText(textarea) {
  var own = textarea.getAttribute("aria-label");
  if (own) return own;
  var labels = textarea.labels;
  if (labels && labels.length) return (labels[0].textContent || "").trim();
  return "Code";
}

var HANDLE_KEY = "__livyEditor";

function create(textarea, options) {
  if (!textarea || textarea.tagName !== "TEXTAREA") throw new Error("LivyEditor.create: a <textarea> is required");
  if (textarea[HANDLE_KEY]) return textarea[HANDLE_KEY];
  var opts = Object.assign({}, options || {});
  var kind = normalizeKind(opts.language);
  var languageConf = new Compartment();
  var suppressChange = false;

  function call(name) {
    var fn = opts[name];
    if (typeof fn !== "function") return false;
    try { fn(); } catch (e) { setTimeout(function () { throw e; }); }
    return true;
  }

  var runKeys = Prec.highest(keymap.of([
    { key: "Ctrl-Enter", run: function () { call("onRun"); return true; } },
    { key: "Meta-Enter", run: function () { call("onRun"); return true; } },
    { key: "Shift-Enter", run: function () { call("onRunAndClear"); return true; } },
  ]));

  var sync = EditorView.updateListener.of(function (update) {
    if (!update.docChanged) return;
    var code = update.state.doc.toString();
    textarea.value = code;
    if (suppressChange) return;
    try { textarea.dispatchEvent(new Event("input", { bubbles: true })); } catch (e) { /* old browser */ }
    if (typeof opts.onChange === "function") {
      try { opts.onChange(code); } catch (e) { setTimeout(function () { throw e; }); }
    }
  });

  var completionConfig = { activateOnTypingDelay: 250, icons: false };
  if (typeof opts.complete === "function") {
    completionConfig.override = [livyCompletionSource(function () { return opts; }, function () { return kind; })];
  }

  var placeholderText = opts.placeholder != null ? String(opts.placeholder) : (textarea.getAttribute("placeholder") || "");
  var contentAttrs = { "aria-label": opts.ariaLabel != null ? String(opts.ariaLabel) : labelText(textarea) };
  if (textarea.required) contentAttrs["aria-required"] = "true";

  var extensions = [
    runKeys,
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    EditorState.allowMultipleSelections.of(false),
    EditorState.tabSize.of(4),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    closeBrackets(),
    autocompletion(completionConfig),
    highlightActiveLine(),
    keymap.of([].concat(closeBracketsKeymap, defaultKeymap, historyKeymap, completionKeymap, [indentWithTab])),
    languageConf.of(languageExtension(kind)),
    EditorView.contentAttributes.of(contentAttrs),
    EditorView.lineWrapping,
    theme,
    sync,
  ];
  if (placeholderText) extensions.push(placeholderExt(placeholderText));

  var view = new EditorView({
    state: EditorState.create({ doc: textarea.value, extensions: extensions }),
  });
  view.dom.classList.add("livy-editor");
  var savedTabIndex = textarea.getAttribute("tabindex");
  textarea.insertAdjacentElement("afterend", view.dom);
  textarea.hidden = true;
  textarea.style.display = "none";
  textarea.setAttribute("aria-hidden", "true");
  textarea.tabIndex = -1;

  // Clicking the textarea's <label> focuses the editor instead of the hidden textarea.
  var labels = Array.prototype.slice.call(textarea.labels || []);
  function onLabelClick(event) { event.preventDefault(); view.focus(); }
  labels.forEach(function (l) { l.addEventListener("click", onLabelClick); });

  // A `required` textarea that is empty blocks submission; it cannot take focus, so the editor does.
  function onInvalid() { view.focus(); }
  textarea.addEventListener("invalid", onInvalid);

  // form.reset() restores the textarea's default value: show it in the editor too.
  var form = textarea.form;
  function onReset() { setTimeout(function () { replace(textarea.value, true); }, 0); }
  if (form) form.addEventListener("reset", onReset);

  function replace(code, quiet) {
    code = code == null ? "" : String(code);
    if (code === view.state.doc.toString()) { textarea.value = code; return; }
    suppressChange = !!quiet;
    try {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: code },
        selection: { anchor: code.length },
        userEvent: "set",
      });
    } finally {
      suppressChange = false;
    }
  }

  var handle = {
    version: VERSION,
    view: view,
    textarea: textarea,
    getValue: function () { return view.state.doc.toString(); },
    setValue: function (code) { replace(code, false); },
    clear: function () { replace("", false); },
    focus: function () { view.focus(); },
    getLanguage: function () { return kind; },
    setLanguage: function (newKind) {
      var k = normalizeKind(newKind);
      if (k === kind) return;
      kind = k;
      view.dispatch({ effects: languageConf.reconfigure(languageExtension(k)) });
    },
    destroy: function () {
      labels.forEach(function (l) { l.removeEventListener("click", onLabelClick); });
      if (form) form.removeEventListener("reset", onReset);
      textarea.removeEventListener("invalid", onInvalid);
      textarea.value = view.state.doc.toString();
      view.destroy();
      if (view.dom.parentNode) view.dom.parentNode.removeChild(view.dom);
      textarea.hidden = false;
      textarea.style.display = "";
      textarea.removeAttribute("aria-hidden");
      if (savedTabIndex == null) textarea.removeAttribute("tabindex");
      else textarea.setAttribute("tabindex", savedTabIndex);
      delete textarea[HANDLE_KEY];
    },
  };
  textarea[HANDLE_KEY] = handle;
  return handle;
}

window.LivyEditor = { create: create, version: VERSION, EditorView: EditorView };
