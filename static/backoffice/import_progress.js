// The admin import's progress page (templates/admin/loyalty/importrun/import_progress.html):
// polls the import's status every second and moves the progress bar; when the import has ended
// (or could not start) it reloads the page, which then shows the result. A static file, not an
// inline script, so the admin's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var box = document.getElementById("import-progress-box");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");

  function show(status) {
    if (status.state === "finished" || status.state === "failed") {
      window.location.reload();
      return false;
    }
    bar.value = status.percent;
    bar.textContent = status.percent + "%";
    text.textContent = status.text;
    return true;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (status) {
        if (status === null || show(status)) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 2000); // the server restarted or the network dropped: retry
      });
  }

  window.setTimeout(poll, 1000);
})();
