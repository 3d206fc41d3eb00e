// Console › Channels › Notification templates: the placeholder picker. A click on a placeholder
// inserts `{{ name }}` where the cursor was in the last template field used (the text, by
// default), then tells the form it changed (the live preview follows).
const form = document.getElementById("template-form");
if (form) {
  let last = form.querySelector("#t-body_text");
  form.addEventListener("focusin", (event) => {
    if (event.target.matches("[data-template-field]")) last = event.target;
  });
  form.addEventListener("click", (event) => {
    const button = event.target.closest("[data-placeholder]");
    if (!button || !last) return;
    const text = `{{ ${button.dataset.placeholder} }}`;
    const start = last.selectionStart ?? last.value.length;
    const end = last.selectionEnd ?? start;
    last.value = last.value.slice(0, start) + text + last.value.slice(end);
    last.focus();
    last.setSelectionRange(start + text.length, start + text.length);
    last.dispatchEvent(new Event("input", { bubbles: true }));
  });
}
