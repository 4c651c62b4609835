// Draws a dashboard's charts (app/console/dashboards.py) with Apache ECharts. The figures come as JSON from the
// page's own figures URL, words already translated and numbers in the unit shown; this file holds no words.
(function () {
  "use strict";
  var board = document.getElementById("dashboard");
  if (!board || typeof echarts === "undefined") { return; }
  var palette = ["#0b5cad", "#d9822b", "#1f7a3d", "#8e44ad", "#b3261e", "#5f6b7a"];

  function message(frame, text) {
    frame.textContent = "";
    var note = document.createElement("p");
    note.className = "chart-message";
    note.textContent = text;
    frame.appendChild(note);
  }

  function seriesOption(spec) {
    var series = spec.series.map(function (one) {
      return {
        name: one.name, type: one.type, data: one.data, yAxisIndex: one.axis, connectNulls: false, barMaxWidth: 36
      };
    });
    if (spec.goal) {
      series[0].markLine = {
        symbol: "none",
        lineStyle: { type: "dashed", color: "#b3261e" },
        label: { formatter: spec.goal.label, position: "insideEndTop" },
        data: [{ yAxis: spec.goal.value }]
      };
    }
    return {
      color: palette,
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 56, right: spec.second_unit ? 56 : 24, top: 40, bottom: 40 },
      xAxis: { type: "category", data: spec.categories, axisLabel: { hideOverlap: true } },
      yAxis: spec.second_unit
        ? [{ type: "value", name: spec.unit, min: 0 },
           { type: "value", name: spec.second_unit, min: 0, minInterval: 1, splitLine: { show: false } }]
        : { type: "value", name: spec.unit, min: 0 },
      series: series
    };
  }

  function pieOption(spec) {
    return {
      color: palette,
      animation: false,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { top: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], top: 30, data: spec.series, label: { formatter: "{b}\n{d}%" } }]
    };
  }

  function draw(frame, spec) {
    var empty = spec.kind === "pie"
      ? spec.series.every(function (slice) { return !slice.value; })
      : spec.categories.length === 0;
    if (empty) { message(frame, board.dataset.empty); return; }
    var chart = echarts.init(frame, null, { renderer: "canvas" });
    chart.setOption(spec.kind === "pie" ? pieOption(spec) : seriesOption(spec));
    frame.dataset.drawn = "true";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  fetch(board.dataset.figures, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    })
    .then(function (figures) {
      board.querySelectorAll("[data-chart]").forEach(function (frame) {
        var spec = figures[frame.dataset.chart];
        if (spec) { draw(frame, spec); } else { message(frame, board.dataset.empty); }
      });
      board.dataset.ready = "true";
    })
    .catch(function () {
      board.querySelectorAll("[data-chart]").forEach(function (frame) { message(frame, board.dataset.failed); });
      board.dataset.ready = "failed";
    });
})();
