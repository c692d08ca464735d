// The dashboard's live alerts: Server-Sent Events from /api/v1/alerts/stream (the session
// cookie authenticates it), starting at the cursor the page was rendered with, so no alert
// falls between the page and the stream. EventSource reconnects by itself with Last-Event-ID.
(function () {
  "use strict";
  var rows = document.getElementById("alert-rows");
  var data = JSON.parse(document.getElementById("dash-data").textContent);
  if (!rows || !window.EventSource) return;
  var when = new Intl.DateTimeFormat(data.locale, {dateStyle: "medium", timeStyle: "medium", timeZone: data.time_zone});
  var qty = new Intl.NumberFormat(data.locale, {maximumFractionDigits: 3});
  var source = new EventSource("/api/v1/alerts/stream?cursor=" + encodeURIComponent(rows.dataset.cursor));
  var live = document.getElementById("alerts-live");
  source.onopen = function () { live.hidden = false; };
  source.onerror = function () { live.hidden = true; };
  source.addEventListener("low_stock", function (event) {
    var alert = JSON.parse(event.data);
    var tr = document.createElement("tr");
    tr.className = "flash";
    [when.format(new Date(alert.created_at)), alert.name, data.locations[alert.location_id] || "",
     qty.format(Number(alert.quantity_after))].forEach(function (text, i) {
      var td = document.createElement("td");
      td.textContent = text;
      if (i === 3) td.className = "num";
      tr.appendChild(td);
    });
    rows.insertBefore(tr, rows.firstChild);
    document.getElementById("no-alerts").hidden = true;
    if (data.lang === "ar") {
      // Alerts carry the English name; the product's Arabic one is a request away.
      fetch("/api/v1/products/" + encodeURIComponent(alert.product_id), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (product) { if (product && product.name_ar) tr.children[1].textContent = product.name_ar; });
    }
  });
})();
