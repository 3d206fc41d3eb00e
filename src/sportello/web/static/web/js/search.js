/* Desk: search. Loaded on every Desk page (defer); does nothing where its elements are absent.
   On the results page: a filter's change searches again; "Between dates…" shows the dates. */
"use strict";
(function () {
  var REFOCUS = "sportello.search.refocus";
  function rangeShown(form) {
    var period = form.querySelector("select[name=period]");
    var range = form.querySelector("[data-search-range]");
    if (!period || !range) return false;
    range.hidden = period.value !== "range";
    return !range.hidden;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    var form = target.closest("form[data-search-form]");
    if (!form || target.name === "q") return;
    if (target.name === "period" && rangeShown(form)) {
      var from = form.querySelector("input[name=created_from]");
      if (from) from.focus();
      return; // the dates come next; searching now would lose the focus
    }
    var q = form.querySelector("input[name=q]");
    if (q && q.value.trim() === "") return;
    try { sessionStorage.setItem(REFOCUS, target.name); } catch (e) { /* storage off: no refocus */ }
    form.requestSubmit();
  });

  // After a filter's change reloaded the page, the focus goes back to that filter.
  function refocus() {
    var name = null;
    try { name = sessionStorage.getItem(REFOCUS); sessionStorage.removeItem(REFOCUS); } catch (e) { return; }
    if (!name) return;
    var field = document.querySelector("form[data-search-form] [name='" + name.replace(/[^a-z_]/g, "") + "']");
    if (field) field.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", refocus);
  else refocus();
})();
