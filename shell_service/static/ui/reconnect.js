// While the service restarts (nginx or an app worker answers 502/503/504, or no
// answer comes at all), a "Reconnecting..." banner shows; the page and what the
// reader typed stay as they are, the request is tried again after Retry-After, and
// the banner goes once answers come back.
//
// - htmx requests (the lists' and the job page's refreshes): htmx keeps the page on
//   an error answer; the banner shows on htmx:responseError / htmx:sendError, and
//   goes on the next answer that succeeds. A request that does not repeat by
//   itself (no "every" trigger) is sent again once the service answers.
// - Every POST form (forms added later too; one marked data-no-retry is left to the
//   browser) is sent with fetch: a 502/503/504 answer (nothing was done) is sent
//   again after Retry-After; a redirect is followed; any other answer (a 400's
//   errors beside their fields, a made token's page) replaces the page's <main>,
//   its scripts run; an answer that is not one of our pages (nginx's JSON, as for
//   a 413) shows its message above the page.
// - The live log (log.js) reports with the events "ui:unreachable" / "ui:reachable".
// A 401 sends the browser to sign-in and back: htmx follows the HX-Redirect that
// base.py's to_sign_in answers; log.js does so for its stream.

const RESTARTING = new Set([502, 503, 504]);
const DEFAULT_WAIT_S = 2;
const MAX_WAIT_S = 10;

let banner = null;
let probing = false;
const pending = []; // htmx requests to send again once the service answers

function bannerElement() {
  if (!banner) {
    banner = document.createElement("div");
    banner.id = "reconnecting";
    banner.className = "reconnecting";
    banner.setAttribute("role", "status");
    banner.setAttribute("aria-live", "polite");
    banner.hidden = true;
    banner.textContent =
      "Reconnecting… the service is not answering (restarting?). This page and what you typed are kept; it tries again by itself.";
    document.body.prepend(banner);
  }
  return banner;
}

export function showBanner() {
  bannerElement().hidden = false;
  document.body.dataset.reconnecting = "yes";
  probe();
}

export function hideBanner() {
  if (banner) banner.hidden = true;
  delete document.body.dataset.reconnecting;
  while (pending.length) pending.shift()();
}

// Seconds to wait, from an answer's Retry-After (2 when none, at most 10).
export function retryAfter(response) {
  const header = response && response.headers && response.headers.get("Retry-After");
  const seconds = Number.parseFloat(header || "");
  if (!Number.isFinite(seconds) || seconds <= 0) return DEFAULT_WAIT_S;
  return Math.min(seconds, MAX_WAIT_S);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// Ask for this page (as htmx would: a 401 answers where to sign in) until the
// service answers, then take the banner away.
async function probe() {
  if (probing) return;
  probing = true;
  let wait = DEFAULT_WAIT_S;
  try {
    for (;;) {
      await sleep(wait);
      if (!document.body.dataset.reconnecting) return; // something else saw it back
      let response = null;
      try {
        response = await fetch(location.href, {
          headers: { "HX-Request": "true", "HX-Current-URL": location.href },
          cache: "no-store",
        });
      } catch {
        wait = DEFAULT_WAIT_S;
        continue;
      }
      if (response.status === 401 && response.headers.get("HX-Redirect")) {
        location.assign(response.headers.get("HX-Redirect"));
        return;
      }
      if (!RESTARTING.has(response.status)) {
        hideBanner();
        return;
      }
      wait = retryAfter(response);
    }
  } finally {
    probing = false;
  }
}

// ---- htmx ----------------------------------------------------------------------

function repeatsByItself(elt) {
  return /\bevery\b/.test(elt.getAttribute("hx-trigger") || "");
}

document.body.addEventListener("htmx:responseError", (event) => {
  const { xhr, elt, requestConfig } = event.detail;
  if (!RESTARTING.has(xhr.status)) return;
  if (!repeatsByItself(elt) && requestConfig && window.htmx) {
    pending.push(() =>
      window.htmx.ajax(requestConfig.verb.toUpperCase(), requestConfig.path, {
        source: elt,
        target: event.detail.target,
      }),
    );
  }
  showBanner();
});

document.body.addEventListener("htmx:sendError", () => showBanner());

document.body.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.successful && document.body.dataset.reconnecting) hideBanner();
});

// ---- the live log --------------------------------------------------------------

document.addEventListener("ui:unreachable", () => showBanner());
document.addEventListener("ui:reachable", () => {
  if (document.body.dataset.reconnecting) hideBanner();
});

// ---- POST forms ------------------------------------------------------------------

// The text an answer that is not one of our pages holds: the JSON envelope's
// message (nginx's 413, 429), else its start.
function refusalText(status, text) {
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed.message === "string" && parsed.message) message = parsed.message;
  } catch {
    // Not JSON: its text as it is.
  }
  return `Not done (HTTP ${status}): ${message}`;
}

let scriptRuns = 0;

// Scripts of a <main> swapped in do not run by themselves: put fresh copies in
// (a module is run again under a new URL: the browser runs a URL's module once).
function runScripts(main) {
  for (const old of main.querySelectorAll("script")) {
    const script = document.createElement("script");
    for (const { name, value } of old.attributes) script.setAttribute(name, value);
    if (old.src) {
      const url = new URL(old.src, location.href);
      url.searchParams.set("run", String(++scriptRuns));
      script.src = url.href;
    } else {
      script.textContent = old.textContent;
    }
    old.replaceWith(script);
  }
  if (window.htmx) window.htmx.process(main);
}

async function sendForm(form, action, body) {
  let response;
  try {
    response = await fetch(action, { method: "POST", body, credentials: "same-origin" });
  } catch {
    // No answer at all: it may have arrived, so it is not sent again by itself.
    showBanner();
    return;
  }
  if (RESTARTING.has(response.status)) {
    showBanner();
    if (response.redirected) {
      // Done; the page it leads to is not answering yet (never send it twice).
      form.dataset.sent = "yes";
      const target = response.url;
      pending.push(() => location.assign(target));
      return;
    }
    await sleep(retryAfter(response));
    return sendForm(form, action, body);
  }
  hideBanner();
  if (response.redirected) {
    form.dataset.sent = "yes";
    location.assign(response.url);
    return;
  }
  // Answered here (errors beside their fields, a refusal): shown in place of <main>.
  const text = await response.text();
  let main = new DOMParser().parseFromString(text, "text/html").querySelector("main");
  if (!main) {
    // Not one of our pages (nginx's own answer): its message above the page.
    const note = document.createElement("p");
    note.className = "error";
    note.setAttribute("role", "alert");
    note.textContent = refusalText(response.status, text);
    document.querySelector("main").prepend(note);
    main = document.querySelector("main");
  } else {
    document.title = main.ownerDocument.title;
    document.querySelector("main").replaceWith(main);
    runScripts(main);
  }
  const first = main.querySelector('[aria-invalid="true"]') || main.querySelector("[role=alert]");
  if (first) {
    if (!first.matches("input, select, textarea, button, a")) first.tabIndex = -1;
    first.focus();
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-no-retry")) return;
  const submitter = event.submitter;
  const method = (submitter?.getAttribute("formmethod") || form.getAttribute("method") || "get");
  if (method.toLowerCase() !== "post") return;
  if (event.defaultPrevented) return; // a confirmation said no (or htmx sends it)
  event.preventDefault();
  // Once: a second click while it is tried again, or after it was done, sends nothing.
  if (form.dataset.sending || form.dataset.sent) return;
  form.dataset.sending = "yes";
  const action = new URL(
    submitter?.getAttribute("formaction") || form.getAttribute("action") || location.href,
    location.href,
  ).href;
  const data = new FormData(form, submitter);
  const body = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data);
  sendForm(form, action, body).finally(() => {
    delete form.dataset.sending;
  });
});
