// Console › Direct assignment: the value of a custom-field condition typed as its field. Picking
// a field makes the value input a number or a date input, or offers the picklist's values to
// pick from; without this script the value is typed as text and read as the field's type.
const picker = document.getElementById("id_custom_field");
const value = document.getElementById("id_value");
const list = document.getElementById("direct-values");
function typeValue() {
  const option = picker.selectedOptions[0];
  value.type = option?.dataset.input || "text";
  const choices = (option?.dataset.options || "").split("\n").filter(Boolean);
  list.replaceChildren(...choices.map((label) => Object.assign(document.createElement("option"), { value: label })));
  if (choices.length) value.setAttribute("list", list.id);
  else value.removeAttribute("list");
}
if (picker && value && list) {
  picker.addEventListener("change", typeValue);
  typeValue();
}
