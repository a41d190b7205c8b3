// Charts of table results: the "Chart" button of a table (templates/livy/_output.html) draws a
// bar or line chart of the rows shown, with x and y chosen from the columns. Chart.js is the
// vendored bundle (static/livy/vendor/chart-bundle.min.js, window.Chart), loaded on first use
// from the URL in <body data-chart-src>.
import { $, $all } from "./dom.js";

let loading = null;

/** Resolves once window.Chart exists; rejects (and may be retried) when the bundle fails. */
export function loadChart() {
  if (window.Chart) return Promise.resolve();
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = document.body.getAttribute("data-chart-src");
      script.onload = resolve;
      script.onerror = () => { loading = null; reject(new Error("the chart library did not load")); };
      document.head.appendChild(script);
    });
  }
  return loading;
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

function labelled(text, control) {
  const label = document.createElement("label");
  label.textContent = `${text} `;
  label.appendChild(control);
  return label;
}

/**
 * Shows or hides the chart of the table holding `button` (built on first use).
 * @param {HTMLButtonElement} button the table's [data-chart-toggle]
 * @param {(message: string) => void} onError told when Chart.js cannot be loaded
 */
export function toggleChart(button, onError) {
  const box = button.closest(".out-table");
  const panel = $(".chart-panel", box);
  if (panel) {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    return;
  }
  button.disabled = true;
  loadChart().then(() => {
    button.disabled = false;
    button.setAttribute("aria-expanded", "true");
    buildChart(box);
  }).catch((error) => { button.disabled = false; onError(error.message); });
}

function buildChart(box) {
  const heads = $all("thead th", box).map((th) => ({
    name: ($(".col-name", th) || th).textContent,
    numeric: th.hasAttribute("data-numeric"),
  }));
  const rows = $all("tbody tr", box).map((tr) =>
    $all("td", tr).map((td) => (td.classList.contains("null") ? null : td.textContent)));
  const panel = document.createElement("div");
  panel.className = "chart-panel";
  const controls = document.createElement("div");
  controls.className = "chart-controls";
  const type = document.createElement("select");
  type.setAttribute("data-chart-type", "");
  type.append(option("bar", "Bar"), option("line", "Line"));
  const x = document.createElement("select");
  x.setAttribute("data-chart-x", "");
  const y = document.createElement("select");
  y.setAttribute("data-chart-y", "");
  heads.forEach((h, i) => {
    x.appendChild(option(String(i), h.name));
    if (h.numeric) y.appendChild(option(String(i), h.name));
  });
  const firstText = heads.findIndex((h) => !h.numeric);
  x.value = String(firstText >= 0 ? firstText : 0);
  let firstNumber = heads.findIndex((h, i) => h.numeric && String(i) !== x.value);
  if (firstNumber < 0) firstNumber = heads.findIndex((h) => h.numeric);
  y.value = String(firstNumber);
  controls.append(labelled("Chart", type), labelled("x", x), labelled("y", y));
  const frame = document.createElement("div");
  frame.className = "chart-box";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  frame.appendChild(canvas);
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `Drawn from the ${rows.length} row${rows.length === 1 ? "" : "s"} shown.`;
  panel.append(controls, frame, note);
  $(".table-foot", box).insertAdjacentElement("afterend", panel);

  let chart = null;
  const draw = () => {
    const xi = Number(x.value);
    const yi = Number(y.value);
    const labels = rows.map((r) => (r[xi] == null ? "null" : r[xi]));
    const values = rows.map((r) => (r[yi] == null || r[yi] === "" ? null : Number(r[yi])));
    canvas.setAttribute("aria-label", `${type.value} chart of ${heads[yi].name} by ${heads[xi].name}`);
    chart?.destroy();
    chart = new window.Chart(canvas, {
      type: type.value,
      data: { labels, datasets: [{ label: heads[yi].name, data: values }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } },
    });
  };
  for (const s of [type, x, y]) s.addEventListener("change", draw);
  draw();
}
