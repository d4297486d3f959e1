// A job's live log: stdout and stderr from one Server-Sent Events stream
// (/ui/jobs/<id>/log, shell_service/handlers/ui/log.py), ANSI colours by ansi_up
// (escaped HTML), carriage-return progress bars collapsed to their last state,
// follow that pauses while the reader is scrolled up (and says so), drawn once
// per frame, only the last ~1 MiB kept in the page (a note says what is not shown), and the stream closed while the tab is hidden (browsers allow 6
// connections per host) and reopened from the last event's byte offsets.
import { AnsiUp } from "./vendor/ansi_up-6.0.6.js";

const KEEP_CHARS = 1024 * 1024;

// ansi_up's black and blue are unreadable on the log's near-black background:
// lighter ones, as dark terminal themes use (its 256-colour table shares these).
const ON_DARK = { 0: [118, 118, 118], 4: [59, 120, 255] };
const BRIGHT_ON_DARK = { 0: [150, 150, 150], 4: [110, 140, 255] };

function readableAnsi() {
  const ansi = new AnsiUp();
  ansi.use_classes = false;
  for (const [index, rgb] of Object.entries(ON_DARK)) ansi.ansi_colors[0][index].rgb = rgb;
  for (const [index, rgb] of Object.entries(BRIGHT_ON_DARK)) ansi.ansi_colors[1][index].rgb = rgb;
  return ansi;
}

// A line as a terminal would leave it: what follows its last carriage return
// (a "\r" right before the line's end is part of a "\r\n").
export function collapseCarriageReturns(line) {
  const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
  const at = trimmed.lastIndexOf("\r");
  return at === -1 ? trimmed : trimmed.slice(at + 1);
}

class StreamState {
  constructor(kind) {
    this.kind = kind;
    this.ansi = readableAnsi();
    this.partial = "";
    this.liveLine = null;
  }
}

export class LiveLog {
  constructor(root) {
    this.root = root;
    this.url = root.dataset.stream;
    this.pre = root.querySelector("pre");
    this.status = root.querySelector("[data-log-status]");
    this.note = root.querySelector("[data-log-note]");
    this.paused = root.querySelector("[data-log-paused]");
    this.skipped = {};
    this.pending = [];
    this.streams = { out: new StreamState("out"), err: new StreamState("err") };
    this.lastId = null;
    this.ended = false;
    this.source = null;
    this.chars = 0;
    this.follow = true;
    this.pre.addEventListener("scroll", () => {
      const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 8;
      this.follow = atBottom;
      this.root.dataset.follow = atBottom ? "on" : "paused";
      if (this.paused) this.paused.hidden = atBottom;
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.close();
      else if (!this.ended) this.open();
    });
    this.open();
  }

  open() {
    if (this.source || this.ended) return;
    const url = this.lastId ? `${this.url}?from=${encodeURIComponent(this.lastId)}` : this.url;
    const source = new EventSource(url);
    this.source = source;
    this.root.dataset.connection = "open";
    for (const kind of ["out", "err"]) {
      source.addEventListener(kind, (event) => {
        this.lastId = event.lastEventId;
        // A READY job's note ("the log starts once the job is queued") has done its work.
        if (this.status && this.status.textContent.startsWith("READY")) this.status.textContent = "";
        this.queue(this.streams[kind], JSON.parse(event.data));
      });
    }
    source.addEventListener("skipped", (event) => {
      const { stream, bytes } = JSON.parse(event.data);
      this.skipped[stream] = bytes;
      this.showNote();
    });
    source.addEventListener("end", (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
      this.ended = true;
      this.render();
      this.flushPartials();
      this.close();
      this.root.dataset.connection = "ended";
      if (this.status) this.status.textContent = `ended (${JSON.parse(event.data)})`;
    });
    source.addEventListener("open", () => {
      this.root.dataset.connection = "open";
      document.dispatchEvent(new CustomEvent("ui:reachable"));
    });
    source.onerror = () => {
      if (this.ended || source !== this.source) return;
      this.root.dataset.connection = "reconnecting";
      document.dispatchEvent(new CustomEvent("ui:unreachable"));
      if (source.readyState === EventSource.CLOSED) {
        // An answer that was no stream (a 401, a 503 while the service restarts):
        // EventSource gives up; ask what it was, then sign in or try again.
        this.source = null;
        this.recover();
      }
      // Otherwise the connection dropped: EventSource reconnects by itself with
      // Last-Event-ID, and nothing is lost.
    };
  }

  async recover() {
    let wait = 2;
    for (;;) {
      const controller = new AbortController();
      let response = null;
      try {
        response = await fetch(this.url, {
          headers: { "HX-Request": "true", "HX-Current-URL": location.href },
          cache: "no-store",
          signal: controller.signal,
        });
        controller.abort(); // only its status was wanted: the stream itself reopens below
      } catch {
        response = null;
      }
      if (response && response.status === 401 && response.headers.get("HX-Redirect")) {
        location.assign(response.headers.get("HX-Redirect"));
        return;
      }
      if (response && response.ok) break;
      if (response && ![502, 503, 504].includes(response.status)) {
        this.root.dataset.connection = "closed";
        if (this.status) this.status.textContent = `stopped (HTTP ${response.status})`;
        return;
      }
      const header = response ? Number.parseFloat(response.headers.get("Retry-After") || "") : NaN;
      wait = Number.isFinite(header) && header > 0 ? Math.min(header, 10) : 2;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    if (document.visibilityState !== "hidden") this.open();
  }

  close() {
    if (this.source) {
      this.source.close();
      this.source = null;
      if (!this.ended) this.root.dataset.connection = "closed";
    }
  }

  // Events are drawn once per frame, however many arrive: a fast log does not
  // hold the page's main thread event after event.
  queue(state, text) {
    this.pending.push([state, text]);
    if (this.pending.length === 1) requestAnimationFrame(() => this.render());
  }

  render() {
    const pending = this.pending;
    this.pending = [];
    // Consecutive pieces of one stream are drawn as one (their order is kept).
    let state = null;
    let text = "";
    for (const [next, piece] of pending) {
      if (next === state) {
        text += piece;
        continue;
      }
      if (state) this.append(state, text);
      state = next;
      text = piece;
    }
    if (state) this.append(state, text);
  }

  // What the page does not show: the start of a big file, or lines trimmed from the top.
  showNote() {
    if (!this.note) return;
    const parts = [];
    for (const [stream, bytes] of Object.entries(this.skipped)) {
      parts.push(`the first ${bytes.toLocaleString()} bytes of ${stream}`);
    }
    if (this.root.dataset.trimmed === "yes") parts.push("earlier lines (the page keeps the last ~1 MiB)");
    this.note.textContent = parts.length
      ? `Not shown: ${parts.join("; ")}. The downloads have the whole files.`
      : "";
    this.note.hidden = parts.length === 0;
  }

  append(state, text) {
    const lines = (state.partial + text).split("\n");
    state.partial = lines.pop();
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      fragment.appendChild(this.lineElement(state, collapseCarriageReturns(line)));
    }
    if (state.liveLine) {
      state.liveLine.remove();
      state.liveLine = null;
    }
    this.pre.appendChild(fragment);
    if (state.partial) {
      // The line being written (a progress bar): shown as it is now, replaced on each update.
      const preview = readableAnsi();
      state.liveLine = document.createElement("span");
      state.liveLine.className = `log-line log-${state.kind} log-partial`;
      state.liveLine.innerHTML = preview.ansi_to_html(collapseCarriageReturns(state.partial));
      this.pre.appendChild(state.liveLine);
    }
    this.trim();
    if (this.follow) this.pre.scrollTop = this.pre.scrollHeight;
  }

  lineElement(state, line) {
    const span = document.createElement("span");
    span.className = `log-line log-${state.kind}`;
    span.innerHTML = state.ansi.ansi_to_html(line) + "\n";
    this.chars += line.length + 1;
    return span;
  }

  flushPartials() {
    for (const state of Object.values(this.streams)) {
      if (state.partial) {
        if (state.liveLine) state.liveLine.remove();
        state.liveLine = null;
        this.pre.appendChild(this.lineElement(state, collapseCarriageReturns(state.partial)));
        state.partial = "";
      }
    }
    if (this.follow) this.pre.scrollTop = this.pre.scrollHeight;
  }

  // Only the last ~1 MiB stays in the page (the download has the whole file).
  trim() {
    let removed = false;
    while (this.chars > KEEP_CHARS && this.pre.firstChild) {
      const first = this.pre.firstChild;
      if (first.classList && first.classList.contains("log-partial")) break;
      this.chars -= (first.textContent || "").length;
      first.remove();
      removed = true;
    }
    if (removed && this.root.dataset.trimmed !== "yes") {
      this.root.dataset.trimmed = "yes";
      this.showNote();
    }
  }
}

for (const root of document.querySelectorAll("[data-live-log]")) {
  root.liveLog = new LiveLog(root);
}
