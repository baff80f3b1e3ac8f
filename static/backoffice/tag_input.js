/* A tag (chip) input over a comma-separated text field (the campaign form's categories).
 *
 * The form still posts the text field, "Gifts, Home": the server parses and checks it, so
 * without JavaScript the plain text box works the same. With it, the text field is hidden and
 * each tag shows as a chip with a remove button; typing a tag then Enter or a comma adds it,
 * Backspace in the empty box removes the last one, a pasted "a, b, c" becomes three tags, and a
 * tag left typed in the box is added when the form is sent (not on blur: a chip appearing then
 * would move the Save button away from the click that caused the blur).
 * The box takes the field's id, so its <label> still names it. Labels come from data attributes
 * the server wrote in the page's language. A static file (no inline script) for the CSP.
 */
(function () {
  "use strict";

  function split(text) {
    return text.split(",").map(function (part) { return part.trim(); })
      .filter(function (part) { return part !== ""; });
  }

  function setUp(field) {
    var tags = split(field.value);
    var removeLabel = field.getAttribute("data-remove-label") || "Remove %s";
    var box = document.createElement("div");
    box.className = "tag-box";
    var list = document.createElement("ul");
    list.className = "tag-list";
    var entry = document.createElement("input");
    entry.type = "text";
    entry.className = "tag-entry";
    entry.autocomplete = "off";
    entry.placeholder = field.getAttribute("data-placeholder") || "";
    var describedBy = field.getAttribute("aria-describedby");
    if (describedBy) { entry.setAttribute("aria-describedby", describedBy); }
    if (field.getAttribute("aria-invalid")) { entry.setAttribute("aria-invalid", "true"); }
    // The visible box takes the id, so the field's <label for=...> points at it.
    entry.id = field.id;
    field.id = field.id + "_value";
    box.appendChild(list);
    box.appendChild(entry);
    field.parentNode.insertBefore(box, field.nextSibling);
    field.hidden = true;

    function sync() {
      field.value = tags.join(", ");
      list.textContent = "";
      tags.forEach(function (tag, index) {
        var chip = document.createElement("li");
        chip.className = "tag-chip";
        var text = document.createElement("span");
        text.textContent = tag;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "tag-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", removeLabel.replace("%s", tag));
        remove.addEventListener("click", function () {
          tags.splice(index, 1);
          sync();
          entry.focus();
        });
        chip.appendChild(text);
        chip.appendChild(remove);
        list.appendChild(chip);
      });
    }

    function add(text) {
      split(text).forEach(function (tag) {
        if (tags.indexOf(tag) === -1) { tags.push(tag); }
      });
      entry.value = "";
      sync();
    }

    entry.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") {
        event.preventDefault(); // Enter would send the form; a comma separates tags
        add(entry.value);
      } else if (event.key === "Backspace" && entry.value === "" && tags.length) {
        tags.pop();
        sync();
      }
    });
    entry.addEventListener("input", function () {
      if (entry.value.indexOf(",") !== -1) { add(entry.value); } // pasted "a, b"
    });
    if (field.form) {
      field.form.addEventListener("submit", function () {
        if (entry.value.trim() !== "") { add(entry.value); }
      });
    }
    box.addEventListener("click", function (event) {
      if (event.target === box || event.target === list) { entry.focus(); }
    });
    sync();
  }

  function init() {
    document.querySelectorAll("input.tag-input").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
