/* Desk: me. Loaded on every Desk page (defer); does nothing where its elements are absent.
 *
 * - The bell's count (#bell) polls every 30 s through HTMX while the tab is visible, sending the
 *   ETag it was rendered with: "304 Not Modified" leaves it as it is.
 * - The bell button (#bell-button) discloses its panel (#bell-panel): the latest notifications,
 *   loaded on each opening; Escape closes it and returns the focus to the button, as do a click
 *   elsewhere and tabbing away (without moving the focus).
 * - The agent's menu closes on Escape and on a click elsewhere.
 * - [data-copy="#id"] buttons copy a field's value; forms with [data-confirm] ask first.
 * - Mentions: any textarea[data-mentions="<url>"] offers the agents matching "@prefix" in a
 *   listbox (arrow keys, Enter or Tab to pick, Escape to close); the URL answers
 *   {"agents": [{"id", "name", "email", "handle"}]} for ?q=prefix.
 */
"use strict";

(function () {
  // ---- The bell ------------------------------------------------------------------------
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id === "bell" && document.visibilityState === "hidden") {
      event.preventDefault(); // nobody is looking: skip this poll
    }
  });
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id === "bell" && elt.dataset.etag) {
      event.detail.headers["If-None-Match"] = elt.dataset.etag;
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.id === "bell" && event.detail.xhr && event.detail.xhr.status === 304) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
    }
  });
  document.addEventListener("visibilitychange", function () {
    var bell = document.getElementById("bell");
    if (bell && document.visibilityState === "visible" && window.htmx) {
      window.htmx.trigger(bell, "refresh");
    }
  });

  // ---- The bell's panel: a disclosure of the latest notifications ---------------------------
  function bellParts() {
    var button = document.getElementById("bell-button");
    var panel = document.getElementById("bell-panel");
    return button && panel ? { button: button, panel: panel } : null;
  }
  function bellOpen(parts) {
    // On a phone the panel spans the screen just below the bell, wherever the top bar wrapped it.
    parts.panel.style.setProperty("--bell-bottom", Math.round(parts.button.getBoundingClientRect().bottom) + "px");
    parts.panel.hidden = false;
    parts.button.setAttribute("aria-expanded", "true");
    document.body.dispatchEvent(new CustomEvent("bell:open")); // the panel loads (hx-trigger)
  }
  function bellClose(parts, refocus) {
    if (parts.panel.hidden) return;
    parts.panel.hidden = true;
    parts.button.setAttribute("aria-expanded", "false");
    if (refocus) parts.button.focus();
  }
  document.addEventListener("click", function (event) {
    var parts = bellParts();
    if (!parts) return;
    if (parts.button.contains(event.target)) {
      if (parts.panel.hidden) bellOpen(parts);
      else bellClose(parts, false);
    } else if (!parts.panel.contains(event.target)) {
      bellClose(parts, false);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var parts = bellParts();
    if (!parts || parts.panel.hidden) return;
    if (parts.panel.contains(event.target) || event.target === parts.button) {
      event.preventDefault();
      bellClose(parts, true);
    }
  });
  document.addEventListener("focusout", function (event) {
    // Tabbing out of the bell and its panel closes it.
    var parts = bellParts();
    var next = event.relatedTarget;
    if (!parts || parts.panel.hidden || !next) return;
    var menu = parts.button.closest("[data-bell-menu]");
    if (menu && menu.contains(event.target) && !menu.contains(next)) bellClose(parts, false);
  });

  // ---- The agent's menu ------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector(".me-menu[open]");
    if (!menu) return;
    menu.removeAttribute("open");
    var summary = menu.querySelector("summary");
    if (summary) summary.focus();
  });
  document.addEventListener("click", function (event) {
    var menu = document.querySelector(".me-menu[open]");
    if (menu && !menu.contains(event.target)) menu.removeAttribute("open");
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // After changing availability, keep the focus on the pressed choice.
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "me-menu") return;
    var fresh = document.getElementById("me-menu");
    var pressed = fresh && fresh.querySelector(".availability [aria-pressed='true']");
    if (pressed) pressed.focus();
  });

  // ---- Copy buttons and confirmations ----------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    var done = function () {
      button.textContent = button.dataset.copied || button.textContent;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select();
      });
    } else {
      field.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // ---- Mentions ----------------------------------------------------------------------------
  var PREFIX = /(^|[\s(\[{"'])@([^\s@]{0,40})$/;
  var counter = 0;

  function setup(area) {
    if (area.dataset.mentionsReady) return;
    area.dataset.mentionsReady = "1";
    counter += 1;
    var listId = "mention-list-" + counter;
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    var strings = document.getElementById("me-strings");
    list.setAttribute("aria-label", (strings && strings.dataset.mentionLabel) || "Agents");
    list.hidden = true;
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    if (area.parentNode) {
      area.parentNode.classList.add("mention-box");
      area.insertAdjacentElement("afterend", list);
      list.insertAdjacentElement("afterend", status);
    }
    area.setAttribute("aria-autocomplete", "list");
    area.setAttribute("aria-controls", listId);

    var state = { agents: [], active: -1, start: -1, timer: 0, seq: 0 };

    function close() {
      list.hidden = true;
      list.textContent = "";
      state.agents = [];
      state.active = -1;
      area.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var items = list.querySelectorAll("[role=option]");
      state.active = index;
      items.forEach(function (item, i) {
        item.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (items[index]) {
        area.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      }
    }

    function render(agents) {
      list.textContent = "";
      state.agents = agents;
      if (!agents.length) {
        close();
        return;
      }
      agents.forEach(function (agent, i) {
        var item = document.createElement("li");
        item.id = listId + "-" + i;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        var name = document.createElement("span");
        name.textContent = agent.name;
        var email = document.createElement("span");
        email.className = "muted";
        email.textContent = agent.email;
        item.appendChild(name);
        item.appendChild(email);
        item.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the textarea
          choose(i);
        });
        list.appendChild(item);
      });
      list.hidden = false;
      highlight(0);
      status.textContent = agents.map(function (a) { return a.name; }).join(", ");
    }

    function choose(index) {
      var agent = state.agents[index];
      if (!agent || state.start < 0) return;
      var caret = area.selectionStart;
      var before = area.value.slice(0, state.start);
      var after = area.value.slice(caret);
      var inserted = "@" + agent.handle + " ";
      area.value = before + inserted + after;
      var at = before.length + inserted.length;
      area.setSelectionRange(at, at);
      area.dispatchEvent(new Event("input", { bubbles: true }));
      close();
      status.textContent = agent.name;
    }

    function lookup() {
      var upto = area.value.slice(0, area.selectionStart);
      var match = area.dataset.mentions ? PREFIX.exec(upto) : null;  // the attribute can go (public reply)
      if (!match) {
        close();
        return;
      }
      state.start = upto.length - match[2].length - 1;
      var seq = (state.seq += 1);
      var url = area.dataset.mentions + (area.dataset.mentions.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(match[2]);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          return r.ok ? r.json() : { agents: [] };
        })
        .then(function (data) {
          if (seq === state.seq) render((data && data.agents) || []);
        })
        .catch(close);
    }

    area.addEventListener("input", function (event) {
      if (event.isTrusted === false && list.hidden) return;
      window.clearTimeout(state.timer);
      state.timer = window.setTimeout(lookup, 120);
    });
    area.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      var n = state.agents.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight((state.active + 1) % n);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight((state.active - 1 + n) % n);
      } else if (event.key === "Enter" || event.key === "Tab") {
        if (state.active >= 0) {
          event.preventDefault();
          choose(state.active);
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close();
      }
    });
    area.addEventListener("blur", function () {
      window.setTimeout(close, 150);
    });
  }

  function scan(root) {
    (root || document).querySelectorAll("textarea[data-mentions]").forEach(setup);
  }
  document.addEventListener("DOMContentLoaded", function () {
    scan(document);
  });
  document.addEventListener("htmx:load", function (event) {
    scan(event.target && event.target.querySelectorAll ? event.target : document);
  });
  // The composer sets data-mentions when it switches to a note: set up on first focus too.
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("textarea[data-mentions]")) setup(el);
  });
  if (document.readyState !== "loading") scan(document);
})();
