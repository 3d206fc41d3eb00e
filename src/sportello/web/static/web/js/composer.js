/* Desk: composer. Loaded on every Desk page (defer); does nothing where its elements are absent.
   - mode: public reply / internal note, shown on the form (class mode-*), @mentions in notes;
   - formatting toolbar writing the light markup the server renders; Ctrl+B, Ctrl+I, Ctrl+Enter;
   - drafts (body and mode) in localStorage per ticket, restored on load, cleared once sent;
   - attachments by picker, paste or drop, uploaded one XHR each with a progress bar;
   - canned responses inserted at the cursor; macro previews in a dialog; each picker's list is
     loaded (HTMX) when the picker is first opened;
   - "Insert article": a dialog searching the knowledge base (HTMX, what the composer's mode
     allows: public articles into a public reply) that inserts `[title](address)` at the cursor;
     the server records the articles a sent message links to. */
"use strict";
(function () {
  var DRAFT_PREFIX = "sportello:draft:";

  function composerOf(el) { return el && el.closest ? el.closest("form[data-composer]") : null; }
  function bodyOf(form) { return form.querySelector("textarea[name=body]"); }
  function draftKey(form) { return DRAFT_PREFIX + form.dataset.ticket; }
  function modeOf(form) {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "internal";
  }

  function readDraft(form) {
    try { return JSON.parse(window.localStorage.getItem(draftKey(form)) || "null"); } catch (e) { return null; }
  }
  function saveDraft(form) {
    var body = bodyOf(form);
    try {
      if (body && body.value.trim()) {
        window.localStorage.setItem(draftKey(form), JSON.stringify({ body: body.value, kind: modeOf(form) }));
      } else {
        window.localStorage.removeItem(draftKey(form));
      }
    } catch (e) { /* storage full or disabled: drafts are a convenience */ }
  }

  function applyMode(form) {
    var mode = modeOf(form);
    form.classList.toggle("mode-public", mode === "public");
    form.classList.toggle("mode-internal", mode === "internal");
    var body = bodyOf(form);
    if (body && body.dataset.mentionsUrl) {
      if (mode === "internal") body.setAttribute("data-mentions", body.dataset.mentionsUrl);
      else body.removeAttribute("data-mentions");
    }
  }

  function setup(form) {
    if (form.dataset.composerReady) return;
    form.dataset.composerReady = "1";
    var body = bodyOf(form);
    var draft = readDraft(form);
    if (draft && body && !body.value.trim()) {
      body.value = draft.body || "";
      var radio = form.querySelector("input[name=kind][value=" + (draft.kind === "public" ? "public" : "internal") + "]");
      if (radio) radio.checked = true;
    }
    applyMode(form);
  }

  function setupAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("form[data-composer]")) setup(scope);
    scope.querySelectorAll("form[data-composer]").forEach(setup);
  }

  // ---- formatting -----------------------------------------------------------------------
  function wrap(textarea, before, after, placeholder) {
    var start = textarea.selectionStart, end = textarea.selectionEnd, value = textarea.value;
    var selected = value.slice(start, end) || placeholder;
    textarea.setRangeText(before + selected + after, start, end, "end");
    textarea.selectionStart = start + before.length;
    textarea.selectionEnd = start + before.length + selected.length;
  }
  function prefixLines(textarea, prefix) {
    var value = textarea.value, start = textarea.selectionStart, end = textarea.selectionEnd;
    var lineStart = value.lastIndexOf("\n", start - 1) + 1;
    var block = value.slice(lineStart, end) || "";
    var n = 0;
    var lines = block.split("\n").map(function (line) {
      n += 1;
      return (typeof prefix === "function" ? prefix(n) : prefix) + line;
    });
    textarea.setRangeText(lines.join("\n"), lineStart, end, "end");
  }
  function format(textarea, kind) {
    switch (kind) {
      case "bold": wrap(textarea, "**", "**", "bold"); break;
      case "italic": wrap(textarea, "*", "*", "italic"); break;
      case "code":
        if (textarea.value.slice(textarea.selectionStart, textarea.selectionEnd).indexOf("\n") >= 0) {
          wrap(textarea, "```\n", "\n```", "");
        } else {
          wrap(textarea, "`", "`", "code");
        }
        break;
      case "link": {
        var selected = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd);
        var isUrl = /^https?:\/\//.test(selected);
        wrap(textarea, "[", "](" + (isUrl ? selected : "https://") + ")", isUrl ? "link" : "text");
        break;
      }
      case "quote": prefixLines(textarea, "> "); break;
      case "bullets": prefixLines(textarea, "- "); break;
      case "numbers": prefixLines(textarea, function (n) { return n + ". "; }); break;
    }
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function send(form) {
    var button = form.querySelector("[data-send]");
    if (form.requestSubmit) form.requestSubmit(button || undefined);
    else if (button) button.click();
  }

  // ---- uploads --------------------------------------------------------------------------
  function pending(form) { return form.querySelectorAll("[data-upload].uploading").length; }

  function uploadFile(form, file) {
    var list = form.querySelector("[data-upload-list]");
    if (!list) return;
    var item = document.createElement("li");
    item.className = "upload uploading";
    item.setAttribute("data-upload", "");
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name || "file";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", name.textContent);
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link-button";
    remove.setAttribute("data-upload-remove", "");
    remove.textContent = form.dataset.removeLabel || "Remove";
    remove.setAttribute("aria-label", (form.dataset.removeLabel || "Remove") + " " + name.textContent);
    item.append(name, bar, remove);
    list.appendChild(item);

    function fail(message) {
      item.classList.remove("uploading");
      item.classList.add("failed");
      bar.remove();
      var error = document.createElement("span");
      error.className = "error";
      error.setAttribute("role", "alert");
      error.textContent = message;
      item.insertBefore(error, remove);
    }

    var max = parseInt(form.dataset.uploadMax || "0", 10);
    if (max && file.size > max) {
      fail(form.dataset.tooLarge || "The file is too large.");
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name || "pasted");
    var xhr = new XMLHttpRequest();
    item._xhr = xhr;
    xhr.open("POST", form.dataset.uploadUrl);
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      var reply = null;
      try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = null; }
      if (xhr.status === 201 && reply && reply.id) {
        item.classList.remove("uploading");
        item.classList.add("done");
        bar.value = 100;
        bar.remove();
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "attachment_ids";
        input.value = String(reply.id);
        item.appendChild(input);
        if (reply.filename) name.textContent = reply.filename;
        if (!pending(form)) {
          var wait = form.querySelector("[data-upload-wait]");
          if (wait) wait.hidden = true;
        }
      } else {
        fail((reply && reply.error) || form.dataset.uploadFailed || "The upload failed.");
      }
    });
    xhr.addEventListener("error", function () { fail(form.dataset.uploadFailed || "The upload failed."); });
    xhr.send(data);
  }

  function uploadAll(form, files) {
    Array.prototype.forEach.call(files || [], function (file) { uploadFile(form, file); });
  }

  // ---- events ---------------------------------------------------------------------------
  document.addEventListener("change", function (e) {
    var form = composerOf(e.target);
    if (!form) return;
    if (e.target.name === "kind") { applyMode(form); saveDraft(form); }
    if (e.target.matches("[data-file-input]")) {
      uploadAll(form, e.target.files);
      e.target.value = "";
    }
  });

  function filterPicker(panel) {
    var input = panel.querySelector("[data-picker-filter]");
    var q = input ? input.value.trim().toLowerCase() : "";
    panel.querySelectorAll("li[data-title]").forEach(function (li) {
      li.hidden = q !== "" && li.dataset.title.indexOf(q) < 0;
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-picker-filter]")) {
      filterPicker(e.target.closest(".picker-panel"));
      return;
    }
    var form = composerOf(e.target);
    if (form && e.target.name === "body") saveDraft(form);
  });

  document.addEventListener("keydown", function (e) {
    var form = composerOf(e.target);
    if (!form || e.target.name !== "body") return;
    var mod = e.ctrlKey || e.metaKey;
    if (!mod) return;
    if (e.key === "Enter") { e.preventDefault(); send(form); }
    else if (e.key === "b" || e.key === "B") { e.preventDefault(); format(e.target, "bold"); }
    else if (e.key === "i" || e.key === "I") { e.preventDefault(); format(e.target, "italic"); }
  });

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : e.target.parentElement;
    if (!target) return;
    var button = target.closest("[data-format]");
    var form = composerOf(target);
    if (button && form) { format(bodyOf(form), button.dataset.format); return; }
    var remove = target.closest("[data-upload-remove]");
    if (remove) {
      var item = remove.closest("[data-upload]");
      if (item && item._xhr && item.classList.contains("uploading")) item._xhr.abort();
      if (item) item.remove();
      if (form) bodyOf(form).focus();
      return;
    }
    var canned = target.closest("[data-canned-url]");
    if (canned && form) {
      e.preventDefault();
      fetch(canned.dataset.cannedUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (reply) {
          if (!reply || typeof reply.text !== "string") return;
          var body = bodyOf(form);
          var start = body.selectionStart;
          var lead = start > 0 && body.value[start - 1] !== "\n" ? "\n" : "";
          body.setRangeText(lead + reply.text, start, body.selectionEnd, "end");
          var picker = canned.closest("details");
          if (picker) picker.open = false;
          body.focus();
          body.dispatchEvent(new Event("input", { bubbles: true }));
        });
      return;
    }
    if (target.closest("[data-macro]")) {
      var details = target.closest("details");
      if (details) details.open = false;
      return;
    }
    if (target.closest("[data-dialog-close]")) {
      var dialog = target.closest("dialog");
      if (dialog) dialog.close();
    }
  });

  // Only one picker open at a time; Escape closes it.
  document.addEventListener("toggle", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("details[data-picker]") || !el.open) return;
    document.querySelectorAll("details[data-picker][open]").forEach(function (other) {
      if (other !== el) other.open = false;
    });
    var filter = el.querySelector("[data-picker-filter]");
    if (filter) filter.focus();
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = e.target.closest && e.target.closest("details[data-picker][open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });

  document.addEventListener("paste", function (e) {
    var form = composerOf(e.target);
    if (!form || !e.clipboardData || !e.clipboardData.files.length) return;
    e.preventDefault();
    uploadAll(form, e.clipboardData.files);
  });
  document.addEventListener("dragover", function (e) {
    var form = composerOf(e.target);
    if (!form) return;
    e.preventDefault();
    form.classList.add("dragging");
  });
  document.addEventListener("dragleave", function (e) {
    var form = composerOf(e.target);
    if (form && !form.contains(e.relatedTarget)) form.classList.remove("dragging");
  });
  document.addEventListener("drop", function (e) {
    var form = composerOf(e.target);
    if (!form || !e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    form.classList.remove("dragging");
    uploadAll(form, e.dataTransfer.files);
  });

  // Hold the send while files are still uploading.
  document.addEventListener("htmx:confirm", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || !form.matches || !form.matches("form[data-composer]") || !pending(form)) return;
    e.preventDefault();
    var wait = form.querySelector("[data-upload-wait]");
    if (wait) wait.hidden = false;
  });

  document.body.addEventListener("composer:sent", function () {
    document.querySelectorAll("form[data-composer]").forEach(function (form) {
      try { window.localStorage.removeItem(draftKey(form)); } catch (err) { /* ignore */ }
    });
  });

  // A picker's list arrives when it is first opened: a refusal is shown in the list, and
  // what was typed in its filter meanwhile applies to the arrived items.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (!target || !target.matches || !target.matches(".picker-list")) return;
    if (e.detail.xhr && e.detail.xhr.status >= 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (!target || !target.matches || !target.matches(".picker-list")) return;
    target.removeAttribute("aria-busy");
    filterPicker(target.closest(".picker-panel"));
  });

  // Macro previews land in the dialog: open it and focus Apply (or Close).
  document.addEventListener("htmx:afterSwap", function (e) {
    var preview = document.getElementById("macro-preview");
    if (!preview || !(e.detail && e.detail.target && e.detail.target.id === "macro-preview") &&
        !(e.target && e.target.id === "macro-preview")) return;
    var dialog = preview.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
    var first = preview.querySelector("button.primary, button");
    if (first) first.focus();
  });

  // After a send or a macro the ticket is swapped: focus the composer again.
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail || !e.detail.target || e.detail.target.id !== "ticket") return;
    var form = document.querySelector("form[data-composer]");
    if (form && e.detail.requestConfig && e.detail.requestConfig.elt &&
        (e.detail.requestConfig.elt === form || e.detail.requestConfig.elt.closest("#macro-preview, form[data-composer]"))) {
      var body = bodyOf(form);
      if (body) body.focus();
    }
  });

  // ---- "Insert article" ----------------------------------------------------------------
  // The cursor of the body when the picker opened: the article goes there.
  var kbCaret = null;

  function kbPickerOpen(form) {
    var dialog = document.getElementById("kb-picker");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var body = bodyOf(form);
    kbCaret = body ? { start: body.selectionStart, end: body.selectionEnd } : null;
    var mode = modeOf(form);
    var kind = dialog.querySelector("#kb-picker-kind");
    var changed = kind && kind.value !== mode;
    if (kind) kind.value = mode;
    dialog.querySelectorAll("[data-kb-picker-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-kb-picker-for") !== mode;
    });
    var input = dialog.querySelector("#kb-picker-q");
    if (!dialog.open) dialog.showModal();
    if (input) {
      input.focus();
      input.select();
      // The mode changed since the last search: search again in what it now allows.
      if (changed && input.value.trim() && window.htmx) window.htmx.trigger(input, "search");
    }
  }

  function kbInsert(button) {
    var form = document.querySelector("form[data-composer]");
    var dialog = button.closest("dialog");
    if (!form) return;
    var body = bodyOf(form);
    var title = (button.dataset.kbTitle || "").replace(/[\[\]]/g, "");
    var text = "[" + title + "](" + button.dataset.kbUrl + ")";
    var start = kbCaret ? kbCaret.start : body.value.length;
    var end = kbCaret ? kbCaret.end : start;
    var lead = start > 0 && !/\s/.test(body.value[start - 1]) ? " " : "";
    body.setRangeText(lead + text, start, end, "end");
    kbCaret = null;
    if (dialog) dialog.close();
    body.focus();
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function kbOptions(dialog) {
    return Array.prototype.slice.call(dialog.querySelectorAll("[data-kb-insert]"));
  }

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : e.target.parentElement;
    if (!target) return;
    var open = target.closest("[data-kb-picker-open]");
    if (open) { e.preventDefault(); kbPickerOpen(composerOf(open)); return; }
    var insert = target.closest("[data-kb-insert]");
    if (insert) { e.preventDefault(); kbInsert(insert); }
  });

  // Arrows move between the search box and the results; Enter or a click inserts.
  document.addEventListener("keydown", function (e) {
    var dialog = e.target.closest && e.target.closest("#kb-picker");
    if (!dialog || (e.key !== "ArrowDown" && e.key !== "ArrowUp")) return;
    var options = kbOptions(dialog);
    if (!options.length) return;
    var at = options.indexOf(e.target);
    var next = e.key === "ArrowDown" ? Math.min(at + 1, options.length - 1) : at - 1;
    e.preventDefault();
    if (next < 0) dialog.querySelector("#kb-picker-q").focus();
    else options[next].focus();
  });

  // The dialog closed without an insert: the cursor goes back to the body.
  document.addEventListener("close", function (e) {
    if (!e.target || e.target.id !== "kb-picker" || kbCaret === null) return;
    var form = document.querySelector("form[data-composer]");
    var body = form && bodyOf(form);
    if (body) { body.focus(); body.setSelectionRange(kbCaret.start, kbCaret.end); }
    kbCaret = null;
  }, true);

  document.addEventListener("htmx:load", function (e) { setupAll(e.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setupAll(document); });
  } else {
    setupAll(document);
  }
})();
