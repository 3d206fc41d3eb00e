/* Desk: live. Loaded on every Desk page (defer); does nothing where its elements are absent.
   - The ticket page polls its live endpoint (ETag / If-None-Match: 304 when nothing changed) and
     swaps in what changed: the live strip, and out of band the header, conversation and history.
     The composer and the properties form are never replaced, so nothing typed is lost.
   - A heartbeat says whether this agent is viewing the ticket or replying (the composer holds
     text), and that they left when the page goes.
   - Dialogs open from a button with data-dialog-open="<dialog id>" and close from
     data-dialog-close (or Escape). */
"use strict";
(function () {
  var POLL_MS = 8000;
  var BEAT_MS = 15000;
  var polling = false;
  var lastBeat = "";

  function live() { return document.getElementById("live"); }

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) { return ""; }
  }

  function composerState() {
    var box = document.querySelector("#reply-form textarea");
    return box && box.value.trim() ? "replying" : "viewing";
  }

  function beat(state, force) {
    var el = live();
    if (!el || !el.dataset.presenceUrl) return;
    if (!force && state === lastBeat) return;
    lastBeat = state;
    var body = new URLSearchParams({ state: state });
    fetch(el.dataset.presenceUrl, {
      method: "POST", body: body, credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" }
    }).catch(function () { lastBeat = ""; });
  }

  function leave() {
    var el = live();
    if (!el || !el.dataset.presenceUrl || !navigator.sendBeacon) return;
    var data = new FormData();
    data.append("state", "gone");
    data.append("csrfmiddlewaretoken", csrf());
    navigator.sendBeacon(el.dataset.presenceUrl, data);
    lastBeat = "";
  }

  function announce(text) {
    var toasts = document.getElementById("toasts");
    if (!toasts || !text) return;
    var p = document.createElement("p");
    p.className = "toast";
    p.textContent = text;
    toasts.appendChild(p);
    setTimeout(function () { p.remove(); }, 6000);
  }

  function poll() {
    var el = live();
    if (!el || polling || document.hidden || !window.htmx) return;
    if (document.querySelector("dialog[open]")) return;  // never swap under an open dialog
    polling = true;
    var headers = { "HX-Request": "true" };
    if (el.dataset.etag) headers["If-None-Match"] = el.dataset.etag;
    var url = el.dataset.liveUrl + "?v=" + encodeURIComponent(el.dataset.version || "");
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.headers.get("HX-Redirect")) { window.location.href = r.headers.get("HX-Redirect"); return null; }
        return r.status === 200 ? r.text() : null;
      })
      .then(function (html) {
        var current = live();
        if (!html || !current) return;
        htmx.swap(current, html, { swapStyle: "outerHTML" });
        var fresh = live();
        if (fresh) announce(fresh.dataset.announce);
      })
      .catch(function () {})
      .then(function () { polling = false; });
  }

  function start() {
    if (!live()) return;
    beat(composerState(), true);
  }

  setInterval(poll, POLL_MS);
  setInterval(function () { if (live() && !document.hidden) beat(composerState(), true); }, BEAT_MS);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); beat(composerState(), true); }
  });
  document.addEventListener("input", function (e) {
    if (e.target && e.target.closest && e.target.closest("#reply-form")) beat(composerState(), false);
  });
  window.addEventListener("pagehide", leave);
  document.addEventListener("DOMContentLoaded", start);
  if (document.readyState !== "loading") start();

  /* Dialogs */
  document.addEventListener("click", function (e) {
    var opener = e.target.closest && e.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal && !dialog.open) {
        dialog.showModal();
        var first = dialog.querySelector("input, select, textarea");
        if (first) first.focus();
      }
      return;
    }
    var closer = e.target.closest && e.target.closest("[data-dialog-close]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) d.close();
    }
  });
})();
