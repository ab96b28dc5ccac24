// mediajobs dashboard: live progress on a job's page (Server-Sent Events of the job), and subtitle
// files shown as text. No framework, no build step; served by the API (Content-Security-Policy: self).
"use strict";

function followJob(section) {
  if (section.dataset.terminal === "yes" || !window.EventSource) return;
  const source = new EventSource(section.dataset.events);
  const bar = document.getElementById("job-progress");
  const percent = document.getElementById("job-percent");
  const status = document.getElementById("job-status");
  const onEvent = (message) => {
    const event = JSON.parse(message.data);
    if (typeof event.job_percent === "number") {
      bar.value = event.job_percent;
      percent.textContent = Math.round(event.job_percent);
    }
    if (event.status) {
      status.textContent = event.status;
      status.className = "status-" + event.status;
      section.dataset.status = event.status;
    }
    if (event.stage) {
      const row = section.querySelector('tr[data-stage="' + CSS.escape(event.stage) + '"]');
      if (row) {
        if (event.stage_status) row.querySelector(".stage-status").textContent = event.stage_status;
        if (typeof event.stage_percent === "number") row.querySelector("progress").value = event.stage_percent;
      }
    }
    if (["succeeded", "failed", "cancelled", "expired", "deleted"].includes(event.status)) {
      source.close();
      window.location.reload();  // the final page: artifacts, errors, actions
    }
  };
  source.addEventListener("progress", onEvent);
  source.addEventListener("state", onEvent);
}

function showSubtitles() {
  document.querySelectorAll("pre.subtitle-text[data-src]").forEach((pre) => {
    fetch(pre.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((text) => { pre.textContent = text.slice(0, 20000); })
      .catch(() => { pre.textContent = "(could not load)"; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("job");
  if (section) followJob(section);
  showSubtitles();
});
