// Campaign page: poll the progress endpoint and redraw the figures, the bar and the chart while it runs.
(() => {
  const card = document.getElementById("campaign-progress");
  if (!card) return;
  const url = card.dataset.progressUrl;
  const poll = async () => {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    const stats = data.stats;
    document.getElementById("progress-text").textContent = stats.progress_percent + " %";
    document.getElementById("progress-bar").style.width = stats.progress_percent + "%";
    document.querySelectorAll("[data-stat]").forEach((cell) => { cell.textContent = stats[cell.dataset.stat]; });
    const badge = document.getElementById("campaign-status");
    badge.textContent = data.status;
    badge.className = "badge badge-" + data.status;
    document.getElementById("pause-reason").textContent = data.pause_reason;
    // The chart is drawn on the server; the poll brings it redrawn from the same rollup as the figures.
    const chart = document.getElementById("timeline-chart");
    if (chart && data.chart_html) chart.outerHTML = data.chart_html;
  };
  setInterval(poll, 1500);
})();
