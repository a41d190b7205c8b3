// The Jobs pages (templates/livy/jobs/): a standalone ES module, no inline script (CSP).
//  - a job's page (#job[data-live=true]) polls data-poll-url every data-poll-interval seconds
//    for its state and the log lines after those shown (out/err), appends them, and reloads
//    the page once the job has ended (so the final facts, Kill and times are shown);
//  - the list (#job-list[data-live=true]) reloads its table while a job on it has not ended;
//  - the submit form shows the arguments exactly as they will be passed, adds conf rows, and
//    checks the upload limits before sending.

const seconds = (el) => Math.max(0.5, parseFloat(el.dataset.pollInterval || "1") || 1) * 1000;

function append(pre, lines) {
  if (!pre || !lines.length) return;
  const nearBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
  pre.append(document.createTextNode(lines.map((line) => line + "\n").join("")));
  if (nearBottom) pre.scrollTop = pre.scrollHeight;
}

function followJob(job) {
  let out = parseInt(job.dataset.out || "0", 10);
  let err = parseInt(job.dataset.err || "0", 10);
  const wait = seconds(job);
  const state = document.getElementById("job-state");
  const notice = document.getElementById("job-notice-live");
  let failures = 0;

  async function poll() {
    const url = `${job.dataset.pollUrl}?out=${out}&err=${err}`;
    let data;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (answer.status === 401) {
        const body = await answer.json();
        window.location.assign(body.signIn);
        return;
      }
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      data = await answer.json();
      failures = 0;
    } catch (error) {
      failures += 1;
      notice.textContent = `The page cannot reach the server (${error.message}); trying again.`;
      notice.hidden = false;
      window.setTimeout(poll, Math.min(30000, wait * 2 ** failures));
      return;
    }
    append(document.getElementById("job-stdout"), data.stdout);
    append(document.getElementById("job-stderr"), data.stderr);
    const stderrBox = document.getElementById("job-stderr-box");
    if (stderrBox && data.stderr.length) stderrBox.hidden = false;
    out = data.out;
    err = data.err;
    notice.textContent = data.notice || "";
    notice.hidden = !data.notice;
    if (state && state.dataset.state !== data.state) {
      state.dataset.state = data.state;
      state.textContent = data.state;
      state.className = `badge badge-${data.tone}`;
    }
    if (!data.live) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, wait);
  }
  window.setTimeout(poll, wait);
}

function followList(list) {
  const wait = Math.max(3000, seconds(list) * 3);
  async function reload() {
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("job-list");
      const table = page.getElementById("jobs-table");
      if (table) document.getElementById("jobs-table").replaceWith(table);
      if (fresh && fresh.dataset.live !== "true") return;
    } catch (error) {
      // Try again later: the list is only a view.
    }
    window.setTimeout(reload, wait);
  }
  window.setTimeout(reload, wait);
}

function argsPreview(form) {
  const area = form.querySelector("textarea[name=args]");
  const preview = document.getElementById("args-preview");
  if (!area || !preview) return;
  const show = () => {
    const args = area.value.split("\n").map((line) => line.replace(/\r$/, "")).filter((line) => line.trim() !== "");
    preview.textContent = JSON.stringify(args);
  };
  area.addEventListener("input", show);
  show();
}

function confRows(form) {
  const button = document.getElementById("add-conf-row");
  const body = form.querySelector("#conf-rows tbody");
  if (!button || !body) return;
  button.addEventListener("click", () => {
    const last = body.querySelector("tr:last-child");
    const row = last.cloneNode(true);
    row.querySelectorAll("input").forEach((input) => { input.value = ""; });
    body.append(row);
    row.querySelector("input").focus();
  });
}

// The server's upload limits (livy/uploads.py), checked before the browser sends the files: a
// file over data-max-file-bytes, or more than data-max-files files, keeps the form (and what
// was typed) and says why, instead of sending a body the server refuses unread.
function uploadProblem(form) {
  const perFile = parseInt(form.dataset.maxFileBytes || "0", 10);
  const most = parseInt(form.dataset.maxFiles || "0", 10);
  if (!perFile || !most) return "";
  const files = [...form.querySelectorAll("input[type=file]")].flatMap((input) => [...(input.files || [])]);
  const big = files.find((file) => file.size > perFile);
  if (big) return `${big.name} is larger than ${form.dataset.maxFileLabel}: ${form.dataset.uploadRule}.`;
  if (files.length > most) return `${files.length} files chosen: ${form.dataset.uploadRule}.`;
  return "";
}

function guardSubmit(form) {
  form.addEventListener("submit", (event) => {
    const problem = uploadProblem(form);
    const notice = document.getElementById("upload-check");
    if (notice) {
      notice.textContent = problem;
      notice.hidden = !problem;
    }
    if (problem) {
      event.preventDefault();
      return;
    }
    const button = document.getElementById("submit-job");
    // Disabled after the browser has collected the form, so the click still submits it.
    window.setTimeout(() => { button.disabled = true; button.textContent = "Submitting…"; }, 0);
  });
}

const job = document.getElementById("job");
// The newest lines (a finished job's result, a traceback) are at the end: show them.
document.querySelectorAll(".job-log").forEach((pre) => { pre.scrollTop = pre.scrollHeight; });
if (job && job.dataset.live === "true") followJob(job);
const list = document.getElementById("job-list");
if (list && list.dataset.live === "true") followList(list);
const form = document.getElementById("job-form");
if (form) {
  argsPreview(form);
  confRows(form);
  guardSubmit(form);
}
