/* Desk: workflow. Loaded on every Desk page (defer); does nothing where its elements are absent.
 *
 * SLA countdowns: each clock with a `data-due` instant shows the time left (or overdue) and
 * ticks every second without asking the server; when the time passes `data-warn` the badge turns
 * to "warning", when it passes `data-due` to "breached" (the labels come from the panel's
 * data attributes, in the agent's language) and the change is announced to screen readers.
 * After an HTMX swap of a workflow form that came back with errors, focus goes to the first
 * error. */
"use strict";

(function () {
  var STATES = ["sla-ok", "sla-warning", "sla-breached"];

  function lang() {
    return document.documentElement.lang || undefined;
  }

  function unit(value, name) {
    try {
      return new Intl.NumberFormat(lang(), { style: "unit", unit: name, unitDisplay: "narrow" }).format(value);
    } catch (e) {
      return value + " " + name;
    }
  }

  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return unit(d, "day") + " " + unit(h, "hour");
    if (h > 0) return unit(h, "hour") + " " + unit(m, "minute");
    return unit(m, "minute") + " " + unit(s % 60, "second");
  }

  function tick(clock, now) {
    var panel = clock.closest(".sla-panel");
    if (!panel) return;
    var due = Date.parse(clock.dataset.due);
    if (isNaN(due)) return;
    var warn = clock.dataset.warn ? Date.parse(clock.dataset.warn) : NaN;
    var state = now >= due ? "breached" : (!isNaN(warn) && now >= warn ? "warning" : "ok");
    var text = clock.querySelector(".sla-countdown");
    if (text) {
      var template = state === "breached" ? panel.dataset.over : panel.dataset.left;
      text.textContent = (template || "%s").replace("%s", span(due - now));
    }
    if (clock.classList.contains("sla-" + state)) return;
    if (clock.classList.contains("sla-breached")) return; // a breach is never undone by the page
    STATES.forEach(function (c) { clock.classList.remove(c); });
    clock.classList.add("sla-" + state);
    var badge = clock.querySelector(".sla-badge");
    var label = panel.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)];
    if (badge && label) badge.textContent = label;
    var live = panel.querySelector(".sla-announce");
    if (live && label) live.textContent = (clock.dataset.metric || "") + ": " + label;
  }

  function tickAll() {
    var now = Date.now();
    document.querySelectorAll(".sla-panel .sla-clock[data-due]").forEach(function (clock) {
      tick(clock, now);
    });
  }

  document.addEventListener("htmx:load", tickAll);
  document.addEventListener("DOMContentLoaded", tickAll);
  setInterval(tickAll, 1000);

  // After a refused workflow form comes back, put the focus on its first error.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.matches || !target.matches("#blueprint-panel, #tasks-panel, #tier-panel")) return;
    var panel = document.getElementById(target.id) || target;
    var field = panel.querySelector(".has-error input, .has-error select, .has-error textarea");
    var alert = panel.querySelector("[role=alert]");
    var focus = field || alert;
    if (!focus) return;
    if (focus === alert) alert.setAttribute("tabindex", "-1");
    focus.focus();
  });
})();
