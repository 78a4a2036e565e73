// The documents page: upload a dropped or chosen file at once with a progress bar, show the bulk actions only
// while some document is selected, and filter as one types in the search box. Without this file the page still works: the upload form posts as usual and the
// bulk actions are always shown.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (form) {
    const input = form.querySelector("input[type=file]");
    const progress = document.getElementById("upload-progress");
    const upload = () => {
      if (input.files.length) form.requestSubmit();  // htmx takes the submit (hx-post) and reports progress
    };
    form.classList.add("js");
    input.addEventListener("change", upload);
    for (const type of ["dragenter", "dragover"]) {
      form.addEventListener(type, (event) => {
        event.preventDefault();
        form.classList.add("dragging");
      });
    }
    form.addEventListener("dragleave", (event) => {
      if (!form.contains(event.relatedTarget)) form.classList.remove("dragging");
    });
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      form.classList.remove("dragging");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      upload();
    });
    form.addEventListener("htmx:beforeRequest", () => {
      progress.value = 0;
      progress.hidden = false;
      form.setAttribute("aria-busy", "true");
    });
    form.addEventListener("htmx:xhr:progress", (event) => {
      if (event.detail.lengthComputable) progress.value = Math.round((100 * event.detail.loaded) / event.detail.total);
    });
    form.addEventListener("htmx:afterRequest", (event) => {
      if (!event.detail.successful) {  // the server redirects on success and on refusal alike; this is the network
        progress.hidden = true;
        form.removeAttribute("aria-busy");
      }
    });
  }

  // The search box filters as one types (its own htmx trigger); its change on leaving it would filter a second
  // time and redraw the list, clearing the selection the user has just begun.
  const search = document.getElementById("document-search");
  if (search) search.addEventListener("change", (event) => event.stopPropagation());

  const bulk = document.getElementById("bulk-delete-form");
  if (bulk) {
    const count = document.getElementById("bulk-count");
    const update = () => {
      const selected = document.querySelectorAll('input[name=ids][form="bulk-delete-form"]:checked').length;
      bulk.hidden = selected === 0;
      count.textContent = `${selected} selected:`;
    };
    document.addEventListener("change", (event) => {
      if (event.target.matches('input[name=ids][form="bulk-delete-form"]')) update();
    });
    document.body.addEventListener("htmx:afterSwap", update);  // a new page of the list, nothing selected on it
    update();
  }
})();
