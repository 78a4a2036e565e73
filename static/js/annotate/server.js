/* Talking to the REST API (labeling/api.py) with the session cookie and the CSRF header, one request at a time,
 * and the message line that says how it went. The server applies the span rules; its refusal is shown as is. */

const csrfToken = (() => {
  try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
})();

let queue = Promise.resolve(); // requests run one after another, in the order the user acted

export function show(message, kind) {
  const box = document.getElementById("annotate-message");
  box.textContent = message;
  box.className = "annotate-message" + (kind ? " " + kind : "");
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = !message;
}

function errorText(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  const lines = [];
  for (const value of Object.values(body)) {
    if (Array.isArray(value)) lines.push(...value.map(String)); else lines.push(String(value));
  }
  return lines.join(" ") || fallback;
}

// A tag's saving answers with the document's status as the server holds it (it moves the status when tags come and
// go, and another user may have set it meanwhile); changes.js shows it.
let statusListener = () => {};
export function onDocumentStatus(listener) { statusListener = listener; }

export async function request(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const documentStatus = response.ok && response.headers.get("Nerlab-Document-Status");
  if (documentStatus) statusListener(documentStatus);
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch (e) { data = null; } }
  if (!response.ok) {
    const fallback = response.status === 403 ? "Your role does not allow this." : `The server refused (HTTP ${response.status}).`;
    const error = new Error(errorText(data, fallback));
    error.status = response.status;
    throw error;
  }
  return data;
}

/** Run actions one at a time; a failed one shows the server's message and leaves the page as saved. */
export function enqueue(action) {
  queue = queue.then(action).catch((error) => show(error.message || String(error), "error"));
  return queue;
}

/** The end of the request queue (the browser tests await it). */
export function idle() { return queue; }
