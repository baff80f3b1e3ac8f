/* The program dashboard's charts (analytics/templates/analytics/chart.html).
 *
 * Every <canvas data-chart="ID"> is drawn from the JSON in the element #ID (written by
 * `json_script`: {type, labels, series: [{label, data}], stacked}); the table beneath each canvas
 * holds the same numbers for screen readers and for copying. A static file (no inline script), so
 * a strict Content-Security-Policy allows it. A drawn canvas gets data-rendered="true".
 */
(function () {
  "use strict";

  var colours = ["#2a6f7f", "#e9c46a", "#e76f51", "#264653", "#8ab17d", "#9d4edd", "#f4a261"];

  function drawOne(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var stacked = Boolean(data.stacked);
    var chart = new window.Chart(canvas, {
      type: data.type,
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, i) {
          var colour = colours[i % colours.length];
          return {
            label: series.label,
            data: series.data,
            backgroundColor: colour,
            borderColor: colour,
            fill: stacked,
            spanGaps: true
          };
        })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: stacked }, y: { beginAtZero: true, stacked: stacked } }
      }
    });
    canvas.setAttribute("data-rendered", "true");
    window.backofficeCharts = window.backofficeCharts || {};
    window.backofficeCharts[canvas.id] = chart;
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i += 1) { drawOne(canvases[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
