// Times in the viewer's zone: every <time datetime="...Z"> the server wrote (in UTC,
// its title keeping the UTC text for hover), on load and after each htmx swap.

const pad = (n) => String(n).padStart(2, "0");

function zoneName(date) {
  const part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : "";
}

function localText(date) {
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${day} ${clock} ${zoneName(date)}`.trim();
}

export function showLocalTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]:not([data-local])")) {
    const date = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    el.textContent = localText(date);
    el.dataset.local = "";
  }
}

showLocalTimes();
document.body.addEventListener("htmx:afterSettle", (event) => showLocalTimes(event.target));
