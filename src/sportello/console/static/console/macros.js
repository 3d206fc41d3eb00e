// Console › Canned responses: the placeholder picker. A click on a placeholder inserts
// `{{ name }}` where the cursor was in the text, then tells the form it changed.
const form = document.getElementById("canned-form");
if (form) {
  const text = form.querySelector("[data-template-field]");
  form.addEventListener("click", (event) => {
    const button = event.target.closest("[data-placeholder]");
    if (!button || !text) return;
    const inserted = `{{ ${button.dataset.placeholder} }}`;
    const start = text.selectionStart ?? text.value.length;
    const end = text.selectionEnd ?? start;
    text.value = text.value.slice(0, start) + inserted + text.value.slice(end);
    text.focus();
    text.setSelectionRange(start + inserted.length, start + inserted.length);
    text.dispatchEvent(new Event("input", { bubbles: true }));
  });
}
