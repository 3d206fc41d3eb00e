// Console › Direct assignment: only the inputs the chosen condition and target need are shown
// (without this script every input shows, and the server reads the ones that apply), and the
// value of a custom-field condition is typed as its field: a number or a date input, or the
// picklist's values offered to pick from.
const form = document.getElementById("direct-form");
const SHOWN = {
  channel: ["id_channel"],
  department: ["id_department"],
  subject: ["id_text"],
  text: ["id_text"],
  domain: ["id_text"],
  custom: ["id_custom_field", "id_value"],
};

function showOnly(ids, all) {
  for (const id of all) {
    const field = document.getElementById(id)?.closest(".field");
    if (field) field.hidden = !ids.includes(id);
  }
}

function typeValue(picker, value, list) {
  const option = picker.selectedOptions[0];
  value.type = option?.dataset.input || "text";
  const choices = (option?.dataset.options || "").split("\n").filter(Boolean);
  list.replaceChildren(...choices.map((label) => Object.assign(document.createElement("option"), { value: label })));
  if (choices.length) value.setAttribute("list", list.id);
  else value.removeAttribute("list");
}

if (form) {
  const condition = form.querySelector("#id_condition");
  const inputs = [...new Set(Object.values(SHOWN).flat())];
  const picker = form.querySelector("#id_custom_field");
  const value = form.querySelector("#id_value");
  const list = form.querySelector("#direct-values");
  const update = () => {
    showOnly(SHOWN[condition.value] || [], inputs);
    const target = form.querySelector("input[name=target]:checked")?.value;
    showOnly(target === "team" ? ["id_team"] : ["id_agent"], ["id_agent", "id_team"]);
    if (picker && value && list) typeValue(picker, value, list);
  };
  form.addEventListener("change", update);
  update();
}
