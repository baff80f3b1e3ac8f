/* The program dashboard's chart: points issued and redeemed per week.
 *
 * Data comes from the page through `json_script` (#points-chart-data: {labels, series}); the table
 * beneath the canvas holds the same numbers for screen readers and for copying. A static file
 * (no inline script), so a strict Content-Security-Policy allows it.
 */
(function () {
  "use strict";

  function draw() {
    var canvas = document.getElementById("points-chart");
    var source = document.getElementById("points-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var colours = ["#2a6f7f", "#e9c46a"];
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, i) {
          return { label: series.label, data: series.data, backgroundColor: colours[i % 2] };
        })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true } }
      }
    });
    canvas.setAttribute("data-rendered", "true");
    window.backofficePointsChart = chart;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
