// Draw the dashboard's charts from the JSON the page carries (no other request).
document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const palette = ["#1f5fbf", "#e07b39", "#2e9e5b", "#b3261e", "#7a4fbf", "#8a5a00", "#4a9fb5", "#c2185b"];
  for (const chart of data.charts) {
    const canvas = document.querySelector(`canvas[data-chart="${chart.key}"]`);
    if (!canvas) continue;
    const stacked = chart.kind === "stacked";
    new Chart(canvas, {
      type: chart.kind === "line" ? "line" : "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map((s, i) => ({
          label: s.name,
          data: s.values,
          backgroundColor: palette[i % palette.length],
          borderColor: palette[i % palette.length],
          fill: false,
          tension: 0.2,
          pointRadius: 0,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
      },
    });
    canvas.dataset.drawn = "true";
  }
});
