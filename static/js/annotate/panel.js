/* The side panel's model suggestions: how many are pending, from which models, and per type accept/reject all. */
import { config, state, types } from "./state.js";

export function updateSuggestionPanel(shown) {
  const panel = document.getElementById("suggestion-panel");
  if (!panel) return;
  const summary = document.getElementById("suggestion-summary");
  const from = state.suggestionModels.length ? ` from ${state.suggestionModels.join(", ")}` : "";
  summary.textContent = shown.length
    ? `${shown.length} pending${from}.`
    : "No suggestions pending.";
  const perType = new Map();
  for (const suggestion of shown) perType.set(suggestion.typeId, (perType.get(suggestion.typeId) || 0) + 1);
  const list = document.getElementById("suggestion-types");
  list.replaceChildren();
  for (const type of types.values()) {
    const count = perType.get(type.id);
    if (!count) continue;
    const row = document.createElement("li");
    row.dataset.typeId = String(type.id);
    const name = document.createElement("span");
    name.className = "suggestion-type";
    name.style.setProperty("--span-color", type.color);
    name.textContent = `${type.name} `;
    const number = document.createElement("span");
    number.className = "count";
    number.textContent = String(count);
    name.append(number);
    row.append(name);
    if (config.canAnnotate) {
      for (const [action, label] of [["accept", "Accept all"], ["reject", "Reject all"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = action === "reject" ? "danger-outline small" : "small";
        button.dataset[`${action}Type`] = String(type.id);
        button.textContent = label;
        button.title = `${label} ${type.name} suggestions`;
        row.append(" ", button);
      }
    }
    list.append(row);
  }
  panel.querySelectorAll(".suggestion-actions button").forEach((button) => { button.disabled = !shown.length; });
}
