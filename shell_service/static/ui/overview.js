// The overview's charts (uPlot, loaded before this module as window.uPlot): jobs
// ended per hour by outcome, and the queue wait's p50 and p95 per hour. The data
// is the page's <script type="application/json" id="chart-data"> (the stats
// endpoint's figures, written by the server).

const COLOURS = {
  COMPLETE: "#2e9e4f",
  FAILED: "#d93526",
  TIMED_OUT: "#e58a00",
  CANCELLED: "#8891a4",
  SERVER_ERROR: "#9b2fae",
};

function width(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width) || 480);
}

function draw() {
  const source = document.getElementById("chart-data");
  if (!source || !window.uPlot) return;
  const data = JSON.parse(source.textContent);
  const finishedEl = document.getElementById("chart-finished");
  const waitEl = document.getElementById("chart-wait");
  const outcomes = Object.keys(data.finished);
  const charts = [];

  charts.push(
    new uPlot(
      {
        width: width(finishedEl),
        height: 220,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          ...outcomes.map((o) => ({
            label: o,
            stroke: COLOURS[o] || "#555",
            fill: `${COLOURS[o] || "#555555"}22`,
            points: { show: true, size: 4 },
          })),
        ],
        axes: [{}, { label: "jobs" }],
      },
      [data.x, ...outcomes.map((o) => data.finished[o])],
      finishedEl,
    ),
  );

  charts.push(
    new uPlot(
      {
        width: width(waitEl),
        height: 220,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(0.001, max || 0)] } },
        series: [
          {},
          { label: "p50", stroke: "#1f6feb", points: { show: true, size: 4 }, spanGaps: false },
          { label: "p95", stroke: "#d93526", points: { show: true, size: 4 }, spanGaps: false },
        ],
        axes: [{}, { label: "seconds" }],
      },
      [data.x, data.wait_p50, data.wait_p95],
      waitEl,
    ),
  );

  finishedEl.dataset.drawn = "";
  waitEl.dataset.drawn = "";
  window.addEventListener("resize", () => {
    charts[0].setSize({ width: width(finishedEl), height: 220 });
    charts[1].setSize({ width: width(waitEl), height: 220 });
  });
}

draw();
