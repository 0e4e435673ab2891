/* Tipline: type to filter a long list. A <select data-picker="label"> gets a search box
   above it; each word typed, with or without marks ("thanh hoa" finds "Thanh Hóa"), must
   begin a word of the option's name. The select stays the form's field: without this
   script it is the full list, as before. Loaded only by pages with such a select. */
(function () {
  "use strict";
  var doc = document;

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "d").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  }

  function enhance(select, index) {
    var items = Array.prototype.map.call(select.options, function (option) {
      return { option: option, blank: option.value === "", key: " " + fold(option.textContent) };
    });
    var box = doc.createElement("div");
    box.className = "picker";
    var label = doc.createElement("label");
    var input = doc.createElement("input");
    var count = doc.createElement("p");
    input.type = "search";
    input.id = (select.id || "picker-" + index) + "-filter";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("aria-controls", select.id);
    input.setAttribute("aria-describedby", input.id + "-count");
    label.htmlFor = input.id;
    label.textContent = select.getAttribute("data-picker");
    count.id = input.id + "-count";
    count.className = "hint picker-count";
    count.setAttribute("aria-live", "polite");
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(count);
    select.parentNode.insertBefore(box, select);

    function filter() {
      var words = fold(input.value).split(" ").filter(Boolean);
      var chosen = select.value, shown = [];
      // Options are taken out rather than hidden: phones ignore hidden options.
      while (select.options.length) select.remove(0);
      items.forEach(function (item) {
        var match = words.every(function (w) { return item.key.indexOf(" " + w) >= 0; });
        if (item.blank || match) select.add(item.option);
        if (!item.blank && match) shown.push(item.option);
      });
      if (words.length && shown.length === 1) {
        select.value = shown[0].value;  // one match: chosen already
      } else {
        select.value = chosen;
        if (select.selectedIndex < 0) select.selectedIndex = 0;
      }
      var template = select.getAttribute("data-picker-count") || "{n}";
      count.textContent = words.length ? template.replace("{n}", String(shown.length)) : "";
    }
    input.addEventListener("input", filter);
    // Enter in the box must not send the form half-filled.
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); select.focus(); }
    });
  }

  Array.prototype.forEach.call(doc.querySelectorAll("select[data-picker]"), enhance);
})();
