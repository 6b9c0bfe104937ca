// taskcore dashboard: live refresh and confirmations. No inline script, no external code.
// Refresh fetches the current page and swaps its <main id="live"> in, so every value shown
// comes from the server-rendered (escaped) HTML; nothing is built from JSON with innerHTML.
"use strict";

(function () {
  const body = document.body;
  const status = document.getElementById("live-status");
  const period = Number(body.dataset.refresh || 0);

  document.addEventListener("submit", function (event) {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // A notice belongs to the action that caused it: drop it from the URL refreshes fetch.
  const url = new URL(window.location.href);
  if (url.searchParams.has("done")) {
    url.searchParams.delete("done");
    url.searchParams.delete("n");
    window.history.replaceState(null, "", url.toString());
  }

  if (!period) {
    return;
  }
  let busy = false;

  async function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-Requested-With": "taskcore-refresh" },
      });
      if (!response.ok) {
        status.textContent = "refresh failed (" + response.status + ")";
        status.className = "stale";
        return;
      }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("live");
      const current = document.getElementById("live");
      if (fresh && current && fresh.innerHTML !== current.innerHTML) {
        current.replaceWith(document.adoptNode(fresh));
      }
      status.textContent = "live · " + new Date().toLocaleTimeString();
      status.className = "";
    } catch (error) {
      status.textContent = "offline: retrying";
      status.className = "stale";
    } finally {
      busy = false;
    }
  }

  window.setInterval(refresh, period);
})();
