// safemesh 工作台 — the little the pages need beyond htmx: charts from data attributes, and the
// demo's one-click login link (the token travels in the URL fragment, which never reaches a server
// log, and is removed from the address bar at once).
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "1";
      var rows = JSON.parse(el.dataset.rows || "[]");
      var kind = el.dataset.chart;
      var title = { text: el.dataset.title || "", left: "center", textStyle: { fontSize: 13 } };
      var option;
      if (kind === "pie") {
        option = {
          title: title,
          tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
          series: [{
            type: "pie", radius: ["35%", "62%"], top: 20,
            label: { formatter: "{b}\n{c}", fontSize: 11 },
            data: rows.map(function (r) { return { name: r[0], value: r[1] }; })
          }]
        };
      } else {
        option = {
          title: title,
          tooltip: { trigger: "axis" },
          grid: { left: 8, right: 12, top: 30, bottom: 4, containLabel: true },
          xAxis: { type: "value", minInterval: 1 },
          yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r[0]; }),
                   axisLabel: { fontSize: 11 } },
          series: [{ type: "bar", data: rows.map(function (r) { return r[1]; }),
                     itemStyle: { color: el.dataset.color || "#2f6db5" }, barMaxWidth: 16 }]
        };
      }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function oneClickLogin() {
    var form = document.getElementById("login-form");
    if (!form || location.hash.indexOf("#token=") !== 0) return;
    var token = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname + location.search);
    form.querySelector("input[name=token]").value = token;
    form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    oneClickLogin();
    drawCharts(document);
  });
  // The link may be opened on a login page already showing (only the fragment changes).
  window.addEventListener("hashchange", oneClickLogin);
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
})();
