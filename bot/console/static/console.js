// The console's only script of its own: bar charts from data-chart (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  function draw(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var data;
      try { data = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption({
        animation: false,
        grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: data.names, axisLabel: { interval: 0, rotate: data.names.length > 5 ? 35 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", name: el.getAttribute("data-label") || "", data: data.counts, itemStyle: { color: "#2563eb" }, barMaxWidth: 56,
                   label: { show: true, position: "top" } }]
      });
      chart.off("click");
      chart.on("click", function (p) { if (data.keys && data.keys[p.dataIndex]) location.href = "/console/orders?node=" + encodeURIComponent(data.keys[p.dataIndex]); });
    });
  }
  function unfold() {  // filters folded on a phone stand open on a wide screen
    if (!window.matchMedia("(min-width: 700px)").matches) return;
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); unfold(); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var c = window.echarts && window.echarts.getInstanceByDom(el); if (c) c.resize();
    });
  });
})();
