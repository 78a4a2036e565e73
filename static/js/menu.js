/* The project menu (templates/partials/project_menu.html): loaded right after it, so it runs before the first paint.
 *
 * On a narrow screen the menu folds under "Menu" (the <details> starts open so that it works without JavaScript;
 * here it is folded at once); on a wide one it stays open, its toggle hidden by CSS. One group is open at a time,
 * and a click elsewhere or Esc closes it.
 */
(function () {
  "use strict";
  const fold = document.getElementById("project-menu");
  if (!fold) return;
  const narrow = window.matchMedia("(max-width: 900px)");
  function fit() { fold.open = !narrow.matches; }
  fit();
  narrow.addEventListener("change", fit);

  const groups = [...fold.querySelectorAll("details.nav-group")];
  for (const group of groups) {
    group.addEventListener("toggle", () => {
      if (group.open) for (const other of groups) if (other !== group) other.open = false;
    });
  }
  document.addEventListener("click", (event) => {
    for (const group of groups) if (group.open && !group.contains(event.target)) group.open = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = groups.find((group) => group.open);
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });
})();
