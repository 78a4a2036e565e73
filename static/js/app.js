// Every page: what the Content-Security-Policy keeps out of the HTML (no inline handler, no style attribute).
//
// - A colour, a bar's width or a heat-map shade is data: the server writes it as a data attribute
//   (data-span-color="#ffb703", aria-valuenow="42" on a role="progressbar", data-shade="0.4") and this file sets
//   the CSS variable the stylesheets read (--span-color, --percent, --shade) through the CSSOM, which the policy
//   allows. A MutationObserver does it for whatever appears later too: htmx swaps, the annotate page's marks.
// - data-confirm="Question?" on a submit button or a form asks before the form is sent.
// - A region that scrolls (a wide table on a phone) takes keyboard focus, so it can be scrolled without a mouse.
//
// Loaded in <head> without defer, so the observer is watching before the parser adds the body: colours are set
// before the first paint.
"use strict";

(() => {
  const VARIABLES = [
    ["data-span-color", "--span-color"],
    ["data-shade", "--shade"],
  ];
  const SELECTOR = "[data-span-color], [data-shade], [role=progressbar][aria-valuenow]";

  function apply(element) {
    for (const [attribute, variable] of VARIABLES) {
      const value = element.getAttribute(attribute);
      if (value !== null) element.style.setProperty(variable, value);
    }
    if (element.getAttribute("role") === "progressbar") {
      const percent = Number.parseFloat(element.getAttribute("aria-valuenow"));
      if (Number.isFinite(percent)) element.style.setProperty("--percent", `${Math.min(100, Math.max(0, percent))}%`);
    }
  }

  function applyWithin(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.matches(SELECTOR)) apply(node);
    for (const element of node.querySelectorAll(SELECTOR)) apply(element);
  }

  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") apply(record.target);
      else for (const node of record.addedNodes) applyWithin(node);
    }
  }).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["data-span-color", "data-shade", "aria-valuenow"],
  });

  // Capture phase: the question comes before htmx or any other submit handler sees the form.
  document.addEventListener(
    "submit",
    (event) => {
      const question = event.submitter?.dataset.confirm ?? event.target.dataset.confirm;
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true,
  );

  // Only regions that really scroll get a tab stop: a tab stop on every table would slow keyboard users down.
  const SCROLLERS = "table, pre, .scroll-x, .scroll";
  function focusScrollers() {
    for (const element of document.querySelectorAll(SCROLLERS)) {
      const scrolls = element.scrollWidth > element.clientWidth || element.scrollHeight > element.clientHeight;
      const overflow = getComputedStyle(element);
      const scrollable = [overflow.overflowX, overflow.overflowY].some((value) => value === "auto" || value === "scroll");
      if (scrolls && scrollable && !element.hasAttribute("tabindex")) element.setAttribute("tabindex", "0");
    }
  }
  document.addEventListener("DOMContentLoaded", focusScrollers);
  window.addEventListener("resize", focusScrollers);
  document.addEventListener("htmx:afterSettle", focusScrollers);
})();
