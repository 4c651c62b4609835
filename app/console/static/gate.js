// The gate screen's rows, fetched again every few seconds and swapped in without a reload.
// A row whose decision form the operator is filling in is kept until they leave it.
(function () {
  "use strict";
  var state = document.getElementById("live-state");
  var rows = document.getElementById("gate-rows");
  if (!state || !rows) { return; }
  var url = state.getAttribute("data-live-url");
  var every = (parseInt(state.getAttribute("data-every"), 10) || 3) * 1000;

  function busy() {
    var active = document.activeElement;
    return active && active !== document.body && rows.contains(active);
  }

  function refresh() {
    if (busy()) { window.setTimeout(refresh, every); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        if (!busy()) { rows.innerHTML = html; }
        state.textContent = state.getAttribute("data-fresh");
        state.classList.remove("stale");
      })
      .catch(function () {
        state.textContent = state.getAttribute("data-stale");
        state.classList.add("stale");
      })
      .then(function () { window.setTimeout(refresh, every); });
  }

  window.setTimeout(refresh, every);
})();
