/* Show only the fields of the chosen kind on an admin form (campaigns, rewards).
 *
 * The kind <select> carries `data-kind-fields`: {"<kind>": ["field", ...], ...}. Every field
 * named for some kind is hidden unless the chosen kind names it; fields named for no kind always
 * show. A fieldset left with nothing visible is hidden too. Without JavaScript every field shows
 * and the server still checks each kind's rules, so this is a convenience, never a guard.
 * A static file (no inline script), so a strict Content-Security-Policy allows it.
 */
(function () {
  "use strict";

  function rowsOf(form, name) {
    return form.querySelectorAll(".form-row.field-" + name + ", .fieldBox.field-" + name);
  }

  function apply(select) {
    var map = JSON.parse(select.getAttribute("data-kind-fields"));
    var form = select.form || document;
    var shown = map[select.value] || [];
    var all = {};
    Object.keys(map).forEach(function (kind) {
      map[kind].forEach(function (name) { all[name] = true; });
    });
    Object.keys(all).forEach(function (name) {
      rowsOf(form, name).forEach(function (row) {
        row.hidden = shown.indexOf(name) === -1;
      });
    });
    form.querySelectorAll("fieldset.module").forEach(function (fieldset) {
      var rows = fieldset.querySelectorAll(".form-row");
      if (!rows.length) { return; }
      var visible = Array.prototype.some.call(rows, function (row) { return !row.hidden; });
      fieldset.hidden = !visible;
    });
  }

  function init() {
    document.querySelectorAll("select[data-kind-fields]").forEach(function (select) {
      select.addEventListener("change", function () { apply(select); });
      apply(select);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
