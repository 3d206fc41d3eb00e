/* Desk: keyboard shortcuts. Loaded on every Desk page (defer); vanilla JS, no inline script.

   CONTRACT for templates (see also docs/shortcuts.md):
   - `data-shortcut="<key>"` on an element: pressing that key activates it. A form control
     (input, textarea, select) is focused; anything else (button, link, summary…) is clicked.
     The key is compared with KeyboardEvent.key, case-sensitively: "r", "/", "[".
     Hidden or disabled elements are skipped; when several match, the first visible one wins.
   - `data-shortcut-label="…"` (translated by the template) describes it in the help dialog
     that `?` opens. Elements without a label still work but are not listed.
   - Row lists: rows carry `data-row` (the ticket id on the queue and search pages) and one
     link `data-row-link`. `j`/`k` move to the next/previous row (highlighted with
     `.is-current`, scrolled into view, its link focused); `o` or Enter opens it.
   - The ordered links of the last row list shown are kept in sessionStorage; on a ticket page
     reached from that list, `]`/`[` (and `j`/`k`) go to the next/previous ticket.
   - Built in: `/` (the top-bar search box is tagged), `?` help, `g` then `i` the queue.
   - Reserved for the ticket page (tagged by its templates): `r` reply, `n` note,
     `a` assign to me, `s` set status, `m` macro, `l` insert a knowledge-base article.
   Shortcuts never fire while typing in an input, textarea, select or contenteditable, nor with
   Ctrl, Alt or Meta held (Shift is allowed: `?` needs it on most layouts, `/` on some). */
"use strict";
(function () {
  var LIST_KEY = "sportello.shortcuts.list";
  var SEQUENCE_MS = 1500;
  var pendingG = 0;
  var restoreFocus = null;

  function dialog() { return document.getElementById("shortcuts-help"); }

  function isTyping(target) {
    if (!(target instanceof HTMLElement)) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "file", "image", "range", "color"].indexOf(type) === -1;
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && !el.closest("[hidden], [inert]");
  }

  function usable(el) { return visible(el) && !el.disabled && el.getAttribute("aria-disabled") !== "true"; }

  function tagged(key) {
    var all = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-shortcut") === key && usable(all[i])) return all[i];
    }
    return null;
  }

  function activate(el) {
    var tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      el.focus();
      if (tag === "INPUT" && typeof el.select === "function") el.select();
    } else {
      el.click();
    }
  }

  function toast(text) {
    var box = document.getElementById("toasts");
    if (!box || !text) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 4000);
  }

  // ---- Row lists (queue, search results) -------------------------------------------------

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-row]"), function (row) {
      return visible(row) && row.querySelector("[data-row-link]");
    });
  }

  function currentRow(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("is-current") || list[i].contains(document.activeElement)) return i;
    }
    return -1;
  }

  function moveRow(step) {
    var list = rows();
    if (!list.length) return false;
    var at = currentRow(list);
    var next = at === -1 ? 0 : Math.min(Math.max(at + step, 0), list.length - 1);
    list.forEach(function (row) { row.classList.remove("is-current"); });
    var row = list[next];
    row.classList.add("is-current");
    var link = row.querySelector("[data-row-link]");
    link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function openRow() {
    var list = rows();
    var at = currentRow(list);
    if (at === -1) return false;
    list[at].querySelector("[data-row-link]").click();
    return true;
  }

  // ---- Previous / next ticket of the list the agent came from -----------------------------

  function storedList() {
    try {
      var data = JSON.parse(sessionStorage.getItem(LIST_KEY) || "null");
      return data && Array.isArray(data.links) ? data : null;
    } catch (e) {
      return null;
    }
  }

  function here() { return window.location.pathname; }

  function rememberList() {
    var stored = storedList();
    if (stored && stored.links.indexOf(here()) !== -1) return; // a ticket of that list: keep it
    var links = [];
    document.querySelectorAll("[data-row] [data-row-link]").forEach(function (link) {
      var path = new URL(link.href, window.location.href).pathname;
      if (links.indexOf(path) === -1) links.push(path);
    });
    if (!links.length) return;
    try {
      sessionStorage.setItem(LIST_KEY, JSON.stringify({ from: here() + window.location.search, links: links }));
    } catch (e) { /* storage off: no previous/next */ }
  }

  function stepTicket(step) {
    var stored = storedList();
    var at = stored ? stored.links.indexOf(here()) : -1;
    if (at === -1) return false;
    var target = stored.links[at + step];
    var box = dialog();
    if (!target) {
      toast(box && box.getAttribute(step > 0 ? "data-msg-last" : "data-msg-first"));
      return true;
    }
    window.location.assign(target);
    return true;
  }

  function onListedTicket() {
    var stored = storedList();
    return !!stored && stored.links.indexOf(here()) !== -1;
  }

  // ---- The help dialog -------------------------------------------------------------------

  function fillHelp(box) {
    var list = box.querySelector("[data-shortcuts-list]");
    if (list) {
      list.querySelectorAll("[data-tagged]").forEach(function (item) { item.remove(); });
      var first = list.firstElementChild;
      var seen = {};
      document.querySelectorAll("[data-shortcut][data-shortcut-label]").forEach(function (el) {
        var key = el.getAttribute("data-shortcut");
        if (seen[key] || !usable(el) || box.contains(el)) return;
        seen[key] = true;
        var item = document.createElement("div");
        item.setAttribute("data-tagged", "");
        var dt = document.createElement("dt");
        var kbd = document.createElement("kbd");
        kbd.textContent = key;
        dt.appendChild(kbd);
        var dd = document.createElement("dd");
        dd.textContent = el.getAttribute("data-shortcut-label");
        item.appendChild(dt);
        item.appendChild(dd);
        list.insertBefore(item, first);
      });
    }
    var hasRows = rows().length > 0;
    var listed = onListedTicket();
    box.querySelectorAll("[data-when]").forEach(function (item) {
      var when = item.getAttribute("data-when");
      item.hidden = (when === "rows" && !hasRows) || (when === "ticket-list" && !listed);
    });
  }

  function focusables(box) {
    return Array.prototype.filter.call(
      box.querySelectorAll("a[href], button:not([disabled]), input, select, textarea, [tabindex]:not([tabindex='-1'])"),
      visible
    );
  }

  function openHelp() {
    var box = dialog();
    if (!box || box.open || typeof box.showModal !== "function") return false;
    restoreFocus = document.activeElement;
    fillHelp(box);
    box.showModal();
    var first = focusables(box)[0];
    if (first) first.focus();
    return true;
  }

  function closeHelp() {
    var box = dialog();
    if (box && box.open) box.close();
  }

  document.addEventListener("close", function (event) {
    if (event.target !== dialog()) return;
    if (restoreFocus && typeof restoreFocus.focus === "function" && document.contains(restoreFocus)) {
      restoreFocus.focus();
    }
    restoreFocus = null;
  }, true);

  document.addEventListener("click", function (event) {
    var box = dialog();
    if (!box || !box.open) return;
    if (event.target === box || (event.target instanceof Element && event.target.closest("[data-shortcuts-close]"))) {
      closeHelp(); // a click on the backdrop lands on the dialog itself
    }
  });

  function trapTab(event, box) {
    var items = focusables(box);
    if (!items.length) { event.preventDefault(); return; }
    var first = items[0];
    var last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !box.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !box.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  }

  // ---- Dispatch --------------------------------------------------------------------------

  function handle(key) {
    if (pendingG && Date.now() - pendingG < SEQUENCE_MS) {
      pendingG = 0;
      if (key === "i") {
        var box = dialog();
        var home = box && box.getAttribute("data-home-url");
        if (home) { window.location.assign(home); return true; }
      }
      return false;
    }
    pendingG = 0;
    if (key === "?") return openHelp();
    var el = tagged(key);
    if (el) { activate(el); return true; }
    switch (key) {
      case "g": pendingG = Date.now(); return true;
      case "j": return onListedTicket() ? stepTicket(1) : moveRow(1);
      case "k": return onListedTicket() ? stepTicket(-1) : moveRow(-1);
      case "]": return stepTicket(1);
      case "[": return stepTicket(-1);
      case "o": return openRow();
      case "Enter": return openRow();
      default: return false;
    }
  }

  document.addEventListener("keydown", function (event) {
    var box = dialog();
    if (box && box.open) {
      if (event.key === "Tab") trapTab(event, box);
      return; // Escape closes it natively
    }
    if (event.defaultPrevented || event.isComposing) return;
    var altGraph = event.getModifierState && event.getModifierState("AltGraph");
    if ((event.ctrlKey || event.altKey || event.metaKey) && !altGraph) return;
    if (isTyping(event.target)) return;
    if (event.key === "Enter") {
      // Enter on a link or a button does what it does; on the page it opens the current row.
      var t = event.target;
      if (t instanceof Element && t.closest("a, button, summary, [role=button]")) return;
    }
    if (document.querySelector("dialog[open]")) return; // another dialog has the keyboard
    if (handle(event.key)) event.preventDefault();
  });

  rememberList();
  document.addEventListener("htmx:load", rememberList);
})();
