/* The segment builder's live count: as the conditions change, POST them to the count endpoint
 * (the box carries `data-count-url`) and show the count and a sample of members, or the error
 * with the path of the bad node. The server validates again on save; this is a convenience.
 * A static file (no inline script), so the strict Content-Security-Policy allows it.
 */
(function () {
  "use strict";

  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : (match ? match[1] : "");
  }

  function render(box, answer) {
    var count = box.querySelector(".segment-count");
    var error = box.querySelector(".segment-error");
    var sample = box.querySelector(".segment-sample");
    sample.textContent = "";
    if (answer.error) {
      error.textContent = answer.error;
      error.hidden = false;
      count.textContent = "—";
      return;
    }
    error.hidden = true;
    count.textContent = String(answer.count);
    answer.sample.forEach(function (m) {
      var li = document.createElement("li");
      li.textContent = m.external_id + " " + [m.first_name, m.last_name].join(" ").trim();
      sample.appendChild(li);
    });
  }

  function refresh(box, textarea) {
    var body;
    try {
      body = JSON.stringify({conditions: JSON.parse(textarea.value || "{}")});
    } catch (e) {
      render(box, {error: box.getAttribute("data-json-error")});
      return;
    }
    fetch(box.getAttribute("data-count-url"), {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      credentials: "same-origin",
      body: body
    }).then(function (r) { return r.json(); }).then(function (answer) {
      render(box, answer);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("segment-live");
    var textarea = document.querySelector("textarea.segment-conditions");
    if (!box || !textarea) { return; }
    var timer = null;
    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refresh(box, textarea); }, 400);
    });
    refresh(box, textarea);
  });
})();
