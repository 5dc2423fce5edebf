// The web workspace's few actions: each calls the JSON API, then shows the next page.
// No HTML is built from strings: text goes in with textContent only.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const answer = await fetch(url, options);
    let data = {};
    try { data = await answer.json(); } catch (e) { data = {}; }
    return { ok: answer.ok, status: answer.status, data };
  }

  function showError(data, where) {
    const box = where || document.getElementById("page-error");
    if (!box) return;
    box.replaceChildren();
    const message = document.createElement("p");
    message.textContent = data.error || String(data);
    box.append(message);
    if (data.hint) {
      const hint = document.createElement("p");
      hint.textContent = data.hint;
      box.append(hint);
    }
    box.hidden = false;
  }

  function go(url) { window.location.assign(url); }

  // ---------------------------------------------------------------- every page

  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      await api("POST", "/api/logout");
      go("/login");
    });
  }

  // ---------------------------------------------------------------- upload

  function initUpload() {
    const zone = document.getElementById("drop");
    const input = document.getElementById("files");
    const status = document.getElementById("upload-status");
    const error = document.getElementById("upload-error");

    async function send(files) {
      if (!files.length) return;
      const form = new FormData();
      for (const file of files) form.append("file", file, file.name);
      error.hidden = true;
      status.textContent = status.dataset.busy;
      zone.classList.add("busy");
      const answer = await api("POST", "/api/uploads", form);
      zone.classList.remove("busy");
      status.textContent = "";
      if (answer.ok) {
        go("/uploads/" + encodeURIComponent(answer.data.upload_id));
      } else {
        showError(answer.data, error);
        input.value = "";
      }
    }

    input.addEventListener("change", () => send(input.files));
    for (const button of document.querySelectorAll("button.take")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const answer = await api("POST", "/api/uploads", { inbox_files: [button.dataset.file] });
        button.disabled = false;
        if (answer.ok) go("/uploads/" + encodeURIComponent(answer.data.upload_id));
        else showError(answer.data, error);
      });
    }
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      send(event.dataTransfer.files);
    });
  }

  // ---------------------------------------------------------------- file

  function initFile() {
    const card = document.querySelector("[data-upload]");
    for (const select of document.querySelectorAll("select.sheet")) {
      select.addEventListener("change", async () => {
        const answer = await api("PUT", "/api/uploads/" + card.dataset.upload + "/sheet",
                                 { sheet: select.value });
        if (answer.ok) window.location.reload(); else showError(answer.data);
      });
    }
  }

  // ---------------------------------------------------------------- columns

  function showProblems(problems) {
    const list = document.getElementById("problems");
    list.replaceChildren();
    for (const problem of problems) {
      const item = document.createElement("li");
      item.dir = "auto";
      item.textContent = problem;
      list.append(item);
    }
  }

  function showRoles(columns) {
    for (const column of columns) {
      for (const row of document.querySelectorAll("tr[data-column]")) {
        if (row.dataset.column !== column.column) continue;
        row.querySelector("select.role").value = column.role;
        const key = row.querySelector("input.key");
        key.value = column.key;
        key.hidden = column.role !== "custom";
      }
    }
  }

  function initColumns() {
    const page = document.getElementById("columns-page");
    const mappingUrl = "/api/uploads/" + page.dataset.upload + "/mapping";

    async function choose(row) {
      const role = row.querySelector("select.role").value;
      const key = row.querySelector("input.key");
      key.hidden = role !== "custom";
      const answer = await api("PUT", mappingUrl, {
        columns: [{ column: row.dataset.column, role, key: key.value }],
      });
      if (!answer.ok) { showError(answer.data); return; }
      showProblems(answer.data.problems);
      showRoles(answer.data.columns);
    }

    for (const row of document.querySelectorAll("tr[data-column]")) {
      row.querySelector("select.role").addEventListener("change", () => choose(row));
      row.querySelector("input.key").addEventListener("change", () => choose(row));
    }

    const useSaved = document.getElementById("use-saved");
    if (useSaved) {
      useSaved.addEventListener("click", async () => {
        const name = document.getElementById("saved-name").value;
        const answer = await api("PUT", mappingUrl, { mapping_name: name });
        if (!answer.ok) { showError(answer.data); return; }
        showProblems(answer.data.problems);
        showRoles(answer.data.columns);
      });
    }

    document.getElementById("save-as").addEventListener("click", async () => {
      const name = document.getElementById("save-name").value.trim();
      const current = await api("GET", mappingUrl);
      if (!current.ok) { showError(current.data); return; }
      const answer = await api("POST", "/api/mappings", { name, yaml: current.data.yaml });
      if (!answer.ok) { showError(answer.data); return; }
      document.getElementById("save-status").textContent = page.dataset.savedMsg;
    });

    document.getElementById("preview").addEventListener("click", async (event) => {
      event.target.disabled = true;
      const answer = await api("POST", "/api/uploads/" + page.dataset.upload + "/jobs", {
        campaign: document.getElementById("campaign").value,
        mode: document.getElementById("mode").value,
        dry_run: true,
      });
      event.target.disabled = false;
      if (answer.ok) go("/jobs/" + answer.data.job_id); else showError(answer.data);
    });
  }

  // ---------------------------------------------------------------- job

  function initJob() {
    const card = document.getElementById("job");
    const state = card.dataset.state;
    if (state === "queued" || state === "running") {
      const events = new EventSource("/api/jobs/" + card.dataset.job + "/events");
      const bar = document.getElementById("progress");
      const done = document.getElementById("rows-done");
      const total = document.getElementById("rows-total");
      const show = (message) => {
        const job = JSON.parse(message.data);
        const rows = job.progress.rows_done;
        const all = Math.max(job.progress.rows_total || 0, rows, 1);
        bar.max = all;
        bar.value = rows;
        done.textContent = rows.toLocaleString();
        total.textContent = all.toLocaleString();
      };
      events.addEventListener("progress", show);
      events.addEventListener("done", (message) => {
        show(message);
        events.close();
        window.location.reload();
      });
    }

    const importNow = document.getElementById("import-now");
    if (importNow) {
      importNow.addEventListener("click", async () => {
        importNow.disabled = true;
        const answer = await api("POST", "/api/uploads/" + card.dataset.upload + "/jobs", {
          campaign: card.dataset.campaign, mode: card.dataset.mode, dry_run: false,
        });
        importNow.disabled = false;
        if (answer.ok) go("/jobs/" + answer.data.job_id); else showError(answer.data);
      });
    }

    const undo = document.getElementById("undo");
    if (undo) undo.addEventListener("click", () => startUndo(card.dataset.run, card.dataset.confirmUndo));

    const resume = document.getElementById("resume");
    if (resume) resume.addEventListener("click", () => resumeJob(card.dataset.job));
  }

  async function startUndo(runId, question) {
    if (!window.confirm(question)) return;
    const answer = await api("POST", "/api/runs/" + encodeURIComponent(runId) + "/undo", {});
    if (answer.ok) go("/jobs/" + answer.data.job_id); else showError(answer.data);
  }

  async function resumeJob(jobId) {
    const answer = await api("POST", "/api/jobs/" + jobId + "/resume");
    if (answer.ok) go("/jobs/" + answer.data.job_id); else showError(answer.data);
  }

  // ---------------------------------------------------------------- runs

  function initRuns() {
    const page = document.getElementById("runs");
    for (const button of document.querySelectorAll("button.undo")) {
      button.addEventListener("click", () => startUndo(button.dataset.run, page.dataset.confirmUndo));
    }
    for (const button of document.querySelectorAll("button.resume")) {
      button.addEventListener("click", () => resumeJob(button.dataset.job));
    }
  }

  const pages = { upload: initUpload, file: initFile, columns: initColumns, job: initJob,
                  runs: initRuns };
  const init = pages[document.body.dataset.page];
  if (init) init();
})();
