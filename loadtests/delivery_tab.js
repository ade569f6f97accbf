// The Delivery tab's chart: Locust's extended tabs draw tables only, so the latency chart
// (a PNG that matplotlib draws on the master) is placed under the tab's table and refreshed.
(function () {
  "use strict";
  var ID = "taskchat-delivery-chart";
  function tick() {
    var onTab = new URLSearchParams(window.location.search).get("tab") === "delivery";
    var img = document.getElementById(ID);
    if (!onTab) {
      if (img) img.remove();
      return;
    }
    var table = document.querySelector(".MuiTableContainer-root");
    if (!table) return;
    if (!img) {
      img = document.createElement("img");
      img.id = ID;
      img.alt = "delivery and fan-out latency percentiles over time";
      img.style.display = "block";
      img.style.maxWidth = "100%";
      img.style.marginTop = "16px";
      table.parentNode.insertBefore(img, table.nextSibling);
    }
    img.src = "./taskchat/delivery.png?t=" + Date.now();
  }
  window.setInterval(tick, 3000);
  window.addEventListener("popstate", tick);
  document.addEventListener("click", function () { window.setTimeout(tick, 200); });
})();
