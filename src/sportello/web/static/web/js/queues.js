/* Desk: queues. Loaded on every Desk page (defer); does nothing where its elements are absent.
   - row selection: checkboxes, shift-click ranges, "select this page", "select all in this view";
   - the bulk panel: loaded on the first selection, shows the field of the chosen change;
   - the views' counts: refreshed every 30 s while the tab is visible, and after a bulk change;
   - a cell cut short by its column shows its whole text on hover (title). */
"use strict";
(function () {
  var POLL_MS = 30000;
  var lastChecked = null;

  function queue() { return document.querySelector("[data-queue]"); }
  function rowChecks(root) { return Array.prototype.slice.call(root.querySelectorAll("[data-row-check]")); }

  function allInput(root) { return root.querySelector("[data-select-all-input]"); }

  function update(root) {
    var checks = rowChecks(root);
    var chosen = checks.filter(function (c) { return c.checked; }).length;
    var total = parseInt(root.getAttribute("data-total") || "0", 10);
    var all = allInput(root);
    var everything = all && all.value === "1";
    var counter = root.querySelector("[data-selected-count]");
    if (counter) {
      var n = everything ? total : chosen;
      counter.hidden = n === 0;
      counter.textContent = n === 0 ? "" : (counter.getAttribute("data-format") || "{n}").replace("{n}", String(n));
    }
    var page = root.querySelector("[data-select-page]");
    if (page) {
      page.checked = checks.length > 0 && chosen === checks.length;
      page.indeterminate = chosen > 0 && chosen < checks.length;
    }
    var banner = root.querySelector("[data-select-all-banner]");
    var button = root.querySelector("[data-select-all-button]");
    if (banner && button) {
      var pageFull = checks.length > 0 && chosen === checks.length && total > checks.length;
      banner.hidden = !(pageFull || everything);
      var max = parseInt(button.getAttribute("data-max") || "0", 10);
      var text = banner.querySelector("[data-select-all-text]");
      if (everything) {
        button.textContent = button.getAttribute("data-label-page");
      } else {
        button.textContent = button.getAttribute("data-label-all");
      }
      if (text) { text.textContent = total > max ? button.getAttribute("data-too-many") : ""; }
      button.hidden = !everything && total > max;
    }
    var panel = root.querySelector("[data-bulk-panel]");
    if (panel) {
      panel.hidden = chosen === 0 && !everything;
      if (!panel.hidden) { document.body.dispatchEvent(new CustomEvent("queues:selected")); }
    }
  }

  function showField(panel) {
    var action = panel.querySelector("select[name=bulk-action]");
    if (!action) { return; }
    var wanted = action.value === "add_tags" || action.value === "remove_tags" ? "tags" : action.value;
    panel.querySelectorAll("[data-bulk-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-bulk-for") !== wanted;
    });
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target;
    if (!(target instanceof Element)) { return; }
    var root = target.closest("[data-queue]");
    if (!root) { return; }
    if (target.matches("[data-row-check]")) {
      var checks = rowChecks(root);
      if (ev.shiftKey && lastChecked && lastChecked !== target && checks.indexOf(lastChecked) >= 0) {
        var a = checks.indexOf(lastChecked), b = checks.indexOf(target);
        var lo = Math.min(a, b), hi = Math.max(a, b);
        for (var i = lo; i <= hi; i++) { checks[i].checked = target.checked; }
      }
      lastChecked = target;
      var all = allInput(root);
      if (all && !target.checked) { all.value = ""; }
      update(root);
    } else if (target.matches("[data-select-page]")) {
      rowChecks(root).forEach(function (c) { c.checked = target.checked; });
      var all2 = allInput(root);
      if (all2 && !target.checked) { all2.value = ""; }
      update(root);
    } else if (target.matches("[data-select-all-button]")) {
      var input = allInput(root);
      if (!input) { return; }
      var selectAll = input.value !== "1";
      input.value = selectAll ? "1" : "";
      if (!selectAll) { rowChecks(root).forEach(function (c) { c.checked = false; }); }
      update(root);
    }
  });

  document.addEventListener("change", function (ev) {
    var target = ev.target;
    if (target instanceof Element && target.matches("[data-bulk-fields] select[name=bulk-action]")) {
      showField(target.closest("[data-bulk-fields]"));
    }
  });

  // After a bulk change: the table and the counts show the new state; the selection is cleared.
  document.body && document.body.addEventListener("queues:changed", function () {
    var root = queue();
    if (root && window.htmx) {
      window.htmx.ajax("GET", window.location.href, { target: "#queue", swap: "outerHTML", headers: { "HX-Target": "queue" } });
    }
    document.body.dispatchEvent(new CustomEvent("queues:refresh"));
  });

  document.addEventListener("htmx:load", function (ev) {
    var el = ev.target;
    if (!(el instanceof Element)) { return; }
    var fields = el.matches("[data-bulk-fields]") ? el : el.querySelector("[data-bulk-fields]");
    if (fields) { showField(fields); }
    var root = el.matches("[data-queue]") ? el : el.querySelector("[data-queue]");
    if (root) { lastChecked = null; update(root); }
  });

  // After any swap has settled, the selection controls match the rows on the page.
  document.addEventListener("htmx:afterSettle", function () {
    var root = queue();
    if (root) { update(root); }
  });

  function refreshCounts() {
    if (document.visibilityState === "visible" && document.querySelector("[data-queue-counts]")) {
      document.body.dispatchEvent(new CustomEvent("queues:refresh"));
    }
  }
  window.setInterval(refreshCounts, POLL_MS);
  document.addEventListener("visibilitychange", refreshCounts);

  // A cell cut short by its column's width shows its whole text on hover.
  document.addEventListener("mouseover", function (ev) {
    var cell = ev.target.closest && ev.target.closest("[data-queue-table] td");
    if (!cell || cell.title || cell.querySelector("[title]")) return;
    if (cell.scrollWidth > cell.clientWidth) cell.title = cell.textContent.replace(/\s+/g, " ").trim();
  });
})();
