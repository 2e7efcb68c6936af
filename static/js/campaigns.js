// Campaign page: poll the progress endpoint and redraw what it brings (progress and funnel, chart, recipients,
// and the buttons when the campaign's state changed), so the page follows the campaign while it is open.
(() => {
  const card = document.getElementById("campaign-progress");
  if (!card) return;
  const url = new URL(card.dataset.progressUrl, window.location.href);
  // The recipients come back with the filters and page the table shows.
  new URLSearchParams(window.location.search).forEach((value, key) => url.searchParams.set(key, value));
  const replace = (id, html) => {
    const node = document.getElementById(id);
    if (node && html !== undefined) node.innerHTML = html;
    // Bar widths come from data-width: a style attribute would be refused by the Content-Security-Policy.
    if (node) node.querySelectorAll("[data-width]").forEach((bar) => { bar.style.width = `${bar.dataset.width}%`; });
  };
  const poll = async () => {
    const actions = document.getElementById("campaign-actions");
    if (actions) url.searchParams.set("shown", actions.dataset.status);
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" } });
    } catch {
      return; // offline for a moment: the next poll tries again
    }
    if (!response.ok) return;
    const data = await response.json();
    const badge = document.getElementById("campaign-status");
    badge.textContent = data.status_label;
    badge.className = `badge badge-${data.status}`;
    document.getElementById("pause-reason").textContent = data.pause_reason;
    replace("progress-body", data.progress_html);
    replace("recipients", data.recipients_html);
    if (data.actions_html && actions) actions.outerHTML = data.actions_html;
    // The chart is drawn on the server; the poll brings it redrawn from the same rollup as the figures.
    const chart = document.getElementById("timeline-chart");
    if (chart && data.chart_html) chart.outerHTML = data.chart_html;
  };
  setInterval(poll, 1500);
})();
