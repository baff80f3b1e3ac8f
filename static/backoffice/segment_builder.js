/* The segment builder (admin, Marketing): a visual editor over the segment's JSON condition tree,
 * and the live count and sample.
 *
 * - The JSON in the form's textarea stays the stored form: every change in the builder writes
 *   the tree there, and a valid edit of the JSON redraws the builder.
 * - Groups (ALL / ANY, nested) and conditions; each condition's operators and value input follow
 *   its field (numbers, amounts, dates, yes/no, lists to pick from, free texts), from the spec the
 *   page carries (`#segment-builder-spec`, a JSON data block: segments/admin/builder.py).
 * - As the tree changes it is POSTed to the count endpoint (`data-count-url`): the count and a
 *   sample of members, or the server's error with the path of the bad node, which is outlined.
 *   The server validates again on save; nothing here is trusted.
 * - A static file, no inline script and no eval: the strict Content-Security-Policy allows it.
 */
(function () {
  "use strict";

  var spec = null;
  var fields = {};
  var textarea = null;
  var builder = null;
  var tree = null;
  var timer = null;

  // --- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function button(label, onClick) {
    var b = el("button", {type: "button", "class": "button segment-button", text: label});
    b.addEventListener("click", onClick);
    return b;
  }

  function select(label, options, value, multiple) {
    var s = el("select", {"aria-label": label});
    if (multiple) {
      s.multiple = true;
      s.size = Math.min(8, Math.max(3, options.length));
    }
    options.forEach(function (o) {
      var option = el("option", {value: String(o[0]), text: o[1]});
      var chosen = multiple ? (value || []).map(String).indexOf(String(o[0])) >= 0
        : String(o[0]) === String(value);
      option.selected = chosen;
      s.appendChild(option);
    });
    return s;
  }

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return input ? input.value : (match ? match[1] : "");
  }

  function isGroup(node) {
    return node && typeof node === "object" && !Array.isArray(node) &&
      (Array.isArray(node.all) || Array.isArray(node.any)) && Object.keys(node).length === 1;
  }

  function groupKey(node) { return Array.isArray(node.all) ? "all" : "any"; }

  // Can the builder draw this tree? Groups of groups and conditions on known fields.
  function drawable(node) {
    if (isGroup(node)) { return node[groupKey(node)].every(drawable); }
    return node && typeof node === "object" && !Array.isArray(node) && fields[node.field] &&
      fields[node.field].ops.indexOf(node.op) >= 0;
  }

  // --- the model ----------------------------------------------------------------------------

  function today() { return new Date().toISOString().slice(0, 10); }

  function scalarDefault(f) {
    if (f.type === "score") { return 1; }
    if (f.type === "int") { return 0; }
    if (f.type === "money") { return "0.00"; }
    if (f.type === "date") { return today(); }
    return null;
  }

  function valueFor(f, op, old) {
    if (f.type === "bool") { return typeof old === "boolean" ? old : true; }
    if (f.type === "codes" || f.type === "months") { return Array.isArray(old) ? old : []; }
    var single = Array.isArray(old) ? old[0] : old;
    if (single === undefined || single === null) { single = scalarDefault(f); }
    if (op === "between") { return Array.isArray(old) && old.length === 2 ? old : [single, single]; }
    return single;
  }

  function newCondition(name) {
    var f = fields[name];
    var node = {field: name, op: f.ops[0]};
    node.value = valueFor(f, node.op, undefined);
    f.params.forEach(function (p) { if (p.required) { node[p.name] = Math.min(p.max, Math.max(p.min, 30)); } });
    return node;
  }

  function changed(redraw) {
    textarea.value = JSON.stringify(tree, null, 2);
    if (redraw) { draw(); }
    schedule();
  }

  // --- drawing ------------------------------------------------------------------------------

  function childPath(path, key, index) {
    return (path ? path + "." : "") + key + "[" + index + "]";
  }

  function drawGroup(node, path, remove) {
    var key = groupKey(node);
    var box = el("div", {"class": "segment-node segment-group", "data-path": path, role: "group"});
    var kind = select(spec.texts.builder, [["all", spec.texts.all], ["any", spec.texts.any]], key);
    kind.addEventListener("change", function () {
      var children = node[key];
      delete node[key];
      node[kind.value] = children;
      changed(true);
    });
    var head = el("div", {"class": "segment-group-head"}, [kind]);
    head.appendChild(button(spec.texts.add_condition, function () {
      node[key].push(newCondition(spec.fields[0].name));
      changed(true);
    }));
    head.appendChild(button(spec.texts.add_group, function () {
      node[key].push({all: [newCondition(spec.fields[0].name)]});
      changed(true);
    }));
    if (remove) { head.appendChild(button(spec.texts.remove, remove)); }
    box.appendChild(head);
    var list = el("ul", {"class": "segment-children"});
    node[key].forEach(function (child, i) {
      var removeChild = function () { node[key].splice(i, 1); changed(true); };
      var p = childPath(path, key, i);
      var item = el("li", {}, [isGroup(child) ? drawGroup(child, p, removeChild)
        : drawCondition(child, p, removeChild)]);
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function numberInput(f, value, onChange, label) {
    var input;
    if (f.type === "date") {
      input = el("input", {type: "date", "aria-label": label});
    } else if (f.type === "money") {
      input = el("input", {type: "text", inputmode: "decimal", size: "10", "aria-label": label,
        placeholder: "25.00"});
    } else {
      input = el("input", {type: "number", step: "1", "aria-label": label, "class": "vIntegerField"});
      if (f.type === "score") { input.min = "1"; input.max = "5"; }
    }
    input.value = value === null || value === undefined ? "" : String(value);
    input.addEventListener("input", function () {
      var raw = input.value.trim();
      if (f.type === "int" || f.type === "score") {
        onChange(/^-?\d+$/.test(raw) ? parseInt(raw, 10) : (raw === "" ? null : raw));
      } else {
        onChange(raw);
      }
      changed(false);
    });
    return input;
  }

  function valueInput(node, f) {
    var label = spec.texts.value;
    if (f.type === "bool") {
      var yesNo = select(label, [["true", spec.texts.yes], ["false", spec.texts.no]],
        String(node.value));
      yesNo.addEventListener("change", function () { node.value = yesNo.value === "true"; changed(false); });
      return yesNo;
    }
    if (f.type === "codes" || f.type === "months") {
      if (f.choices) {
        var many = select(label, f.choices, node.value, true);
        many.addEventListener("change", function () {
          node.value = Array.prototype.filter.call(many.options, function (o) { return o.selected; })
            .map(function (o) { return f.type === "months" ? parseInt(o.value, 10) : o.value; });
          changed(false);
        });
        return many;
      }
      var texts = el("input", {type: "text", size: "30", "aria-label": label,
        title: spec.texts.values_hint, placeholder: spec.texts.values_hint});
      texts.value = (node.value || []).join(", ");
      texts.addEventListener("input", function () {
        node.value = texts.value.split(",").map(function (v) { return v.trim(); })
          .filter(function (v) { return v !== ""; });
        changed(false);
      });
      return texts;
    }
    if (node.op === "between") {
      var pair = Array.isArray(node.value) ? node.value : [node.value, node.value];
      node.value = pair;
      return el("span", {}, [
        numberInput(f, pair[0], function (v) { pair[0] = v; }, label),
        el("span", {text: " " + spec.texts.and + " "}),
        numberInput(f, pair[1], function (v) { pair[1] = v; }, label)
      ]);
    }
    return numberInput(f, node.value, function (v) { node.value = v; }, label);
  }

  function drawCondition(node, path, remove) {
    var f = fields[node.field];
    var box = el("div", {"class": "segment-node segment-condition", "data-path": path});
    var fieldSelect = select(spec.texts.field, spec.fields.map(function (x) { return [x.name, x.label]; }),
      node.field);
    fieldSelect.addEventListener("change", function () {
      var fresh = newCondition(fieldSelect.value);
      Object.keys(node).forEach(function (k) { delete node[k]; });
      Object.keys(fresh).forEach(function (k) { node[k] = fresh[k]; });
      changed(true);
    });
    var opSelect = select(spec.texts.operator, f.ops.map(function (op) { return [op, spec.ops[op] || op]; }),
      node.op);
    opSelect.addEventListener("change", function () {
      node.op = opSelect.value;
      node.value = valueFor(f, node.op, node.op === "between" ? node.value
        : (Array.isArray(node.value) && f.type !== "codes" && f.type !== "months" ? node.value[0] : node.value));
      changed(true);
    });
    box.appendChild(fieldSelect);
    box.appendChild(opSelect);
    box.appendChild(valueInput(node, f));
    f.params.forEach(function (p) {
      var input = el("input", {type: "number", min: String(p.min), max: String(p.max), step: "1",
        "aria-label": p.label, placeholder: p.label, title: p.label, "class": "vIntegerField"});
      input.value = node[p.name] === undefined ? "" : String(node[p.name]);
      input.addEventListener("input", function () {
        var raw = input.value.trim();
        if (raw === "" && !p.required) { delete node[p.name]; } else {
          node[p.name] = /^\d+$/.test(raw) ? parseInt(raw, 10) : raw;
        }
        changed(false);
      });
      box.appendChild(el("label", {"class": "segment-param"}, [el("span", {text: p.label + " "}), input]));
    });
    box.appendChild(button(spec.texts.remove, remove));
    return box;
  }

  function draw() {
    builder.textContent = "";
    if (!drawable(tree)) {
      builder.appendChild(el("p", {"class": "help", text: spec.texts.not_drawn}));
      return;
    }
    builder.appendChild(drawGroup(tree, "", null));
  }

  function fromTextarea() {
    var parsed;
    try {
      parsed = JSON.parse(textarea.value || "{}");
    } catch (e) {
      return false;
    }
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed) && Object.keys(parsed).length === 0) {
      parsed = {all: []};
    } else if (parsed && parsed.field !== undefined) {
      parsed = {all: [parsed]};  // one condition: drawn (and stored) as a group of one
    }
    tree = parsed;
    return true;
  }

  // --- the live count -----------------------------------------------------------------------

  function outline(path) {
    Array.prototype.forEach.call(document.querySelectorAll(".segment-node[data-invalid]"),
      function (node) { node.removeAttribute("data-invalid"); });
    if (path === null || !builder) { return; }
    var best = null;
    Array.prototype.forEach.call(builder.querySelectorAll(".segment-node"), function (node) {
      var p = node.getAttribute("data-path");
      if ((path === p || path.indexOf(p + ".") === 0 || p === "") &&
          (best === null || p.length > best.getAttribute("data-path").length)) {
        best = node;
      }
    });
    if (best) { best.setAttribute("data-invalid", "true"); }
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
      var colon = answer.error.indexOf(":");
      outline(colon > 0 ? answer.error.slice(0, colon) : null);
      return;
    }
    error.hidden = true;
    outline(null);
    count.textContent = String(answer.count);
    answer.sample.forEach(function (m) {
      var li = document.createElement("li");
      li.textContent = m.external_id + " " + [m.first_name, m.last_name].join(" ").trim();
      sample.appendChild(li);
    });
  }

  function refresh() {
    var box = document.getElementById("segment-live");
    if (!box) { return; }
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

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  document.addEventListener("DOMContentLoaded", function () {
    textarea = document.querySelector("textarea.segment-conditions");
    var data = document.getElementById("segment-builder-spec");
    if (!textarea) { return; }
    if (data) {
      spec = JSON.parse(data.textContent);
      spec.fields.forEach(function (f) { fields[f.name] = f; });
      builder = el("div", {id: "segment-builder", "class": "segment-builder"});
      textarea.parentNode.insertBefore(builder, textarea);
      if (fromTextarea()) {
        if (drawable(tree)) { textarea.value = JSON.stringify(tree, null, 2); }
        draw();
      }
    }
    textarea.addEventListener("input", function () {
      if (builder && fromTextarea()) { draw(); }
      schedule();
    });
    refresh();
  });
})();
