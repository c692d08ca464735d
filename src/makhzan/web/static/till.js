// The POS till (no build step). Talks to the same-origin API, so the page works on the central
// server (the session cookie authenticates) and on the terminal agent (no sign-in there).
//
// Quantities and money are exact: decimal strings from the API become BigInt thousandths
// here; floats are used only to hand a finished amount to Intl for display.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("till-config").textContent);
  var M = config.messages;
  var AGENT = config.mode === "agent";
  var SCALE = 1000n;

  var $ = function (id) { return document.getElementById(id); };
  var scanInput = $("scan"), rowsEl = $("line-rows"), messageEl = $("message");
  var locationSelect = $("location");

  var state = {
    lines: [],            // {key, barcode, product, unit, perScan, count, stock, stockAsOf, threshold, error}
    attempt: null,        // {id, body} of the sale being completed: resent unchanged on retry
    done: null,           // the last completed sale, until the next scan starts a basket
    currency: null,       // the sale currency: the tenant's base currency unless the cashier switches
    baseCurrency: "USD",
    rate: null,           // LBP per USD, thousandths
    online: true,
    pending: 0
  };

  // --- text and numbers --------------------------------------------------------------------

  function t(key, fields) {
    var text = M[key] || key;
    Object.keys(fields || {}).forEach(function (name) { text = text.split("{" + name + "}").join(fields[name]); });
    return text;
  }

  function dec(value) {
    // "2.750" / 2.75 / "-1" -> thousandths as BigInt (rounded half away from zero past 3 places).
    var text = String(value == null ? "0" : value).trim();
    var negative = text.charAt(0) === "-";
    if (negative || text.charAt(0) === "+") text = text.slice(1);
    var parts = text.split(".");
    var whole = parts[0] || "0", frac = (parts[1] || "") + "0000";
    var result = BigInt(whole) * SCALE + BigInt(frac.slice(0, 3));
    if (Number(frac.charAt(3)) >= 5) result += 1n;
    return negative ? -result : result;
  }

  function divRound(numerator, denominator) {
    var negative = (numerator < 0n) !== (denominator < 0n);
    var n = numerator < 0n ? -numerator : numerator, d = denominator < 0n ? -denominator : denominator;
    var q = (n * 2n + d) / (2n * d);
    return negative ? -q : q;
  }

  function mul(a, b) { return divRound(a * b, SCALE); }
  function text3(value) {
    var negative = value < 0n, v = negative ? -value : value;
    var frac = String(v % SCALE).padStart(3, "0");
    return (negative ? "-" : "") + String(v / SCALE) + "." + frac;
  }

  var qtyFormat = new Intl.NumberFormat(config.locale, {maximumFractionDigits: 3});
  var moneyFormats = {};
  function money(value, currency) {
    if (!moneyFormats[currency]) {
      var digits = currency === "LBP" ? 0 : 2;
      moneyFormats[currency] = new Intl.NumberFormat(config.locale, {
        style: "currency", currency: currency, minimumFractionDigits: digits, maximumFractionDigits: digits});
    }
    return moneyFormats[currency].format(Number(value) / 1000);
  }
  function qty(value) { return qtyFormat.format(Number(value) / 1000); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Plain-HTTP LAN addresses are not a "secure context": randomUUID is missing there.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // --- the API -----------------------------------------------------------------------------

  function locationId() {
    return locationSelect ? locationSelect.value : config.location_id;
  }

  function api(method, path, body) {
    var options = {method: method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return {status: response.status, ok: response.ok, data: data};
      });
    }, function () {
      setOnline(false);
      return {status: 0, ok: false, data: null};
    });
  }

  function errorText(reply) {
    if (reply.status === 0) return t("till.no_connection");
    if (reply.status === 401) {
      // The session ended (a long day, or signed out elsewhere): to the sign-in page and back.
      // The basket is kept in this browser meanwhile.
      if (!AGENT) setTimeout(function () { window.location.href = "/signin?next=/till"; }, 1500);
      return t("till.signed_out");
    }
    var error = (reply.data && reply.data.error) || {};
    var known = {unknown_barcode: "till.unknown_barcode", invalid_barcode: "till.invalid_barcode",
                 product_inactive: "till.product_inactive", forbidden: "till.forbidden"};
    if (known[error.code]) return t(known[error.code], {code: (error.details && error.details.barcode) || ""});
    return error.message || t("till.failed");
  }

  // --- the basket --------------------------------------------------------------------------

  function productName(product) {
    return (config.lang === "ar" && product.name_ar) ? product.name_ar : product.name;
  }

  function unitPrice(line) {
    // Per base unit, in the sale currency, at the rate of the day.
    var price = dec(line.product.price), from = line.product.currency, to = state.currency || from;
    if (from === to || !state.rate) return price;
    return from === "USD" ? mul(price, state.rate) : divRound(price * SCALE, state.rate);
  }

  function baseQuantity(line) { return mul(line.perScan, line.count); }
  function lineTotal(line) {
    // As the server prices it: quantity × unit price, rounded once (half up) to the currency's
    // smallest coin (a cent; a whole pound).
    var coin = (state.currency || line.product.currency) === "LBP" ? SCALE : 10n;
    return divRound(baseQuantity(line) * unitPrice(line), coin * SCALE) * coin;
  }

  function inBasket(productId) {
    return state.lines.reduce(function (sum, line) {
      return line.product.id === productId ? sum + baseQuantity(line) : sum;
    }, 0n);
  }

  function changed() {
    // Any change after a refused or unanswered attempt makes a new sale (a new id): the server
    // refuses one id with two different baskets.
    state.attempt = null;
    render();
  }

  function startBasketIfDone() {
    if (state.done) {
      state.done = null;
      state.lines = [];
      state.attempt = null;
      state.currency = state.baseCurrency;
      say("", "");
    }
  }

  function addScanned(answer) {
    var key = "b:" + answer.barcode;
    var existing = state.lines.find(function (line) { return line.key === key; });
    var stock = answer.stock || {};
    if (existing) {
      existing.count += SCALE;
      existing.stock = stock.quantity != null ? dec(stock.quantity) : existing.stock;
      bringToTop(existing);
      return existing;
    }
    var line = {
      key: key, barcode: answer.barcode, product: answer.product, unit: answer.unit,
      perScan: dec(answer.quantity), count: SCALE,
      stock: stock.quantity != null ? dec(stock.quantity) : null, stockAsOf: stock.as_of || null,
      threshold: answer.product.low_stock_threshold != null ? dec(answer.product.low_stock_threshold) : null,
      error: null
    };
    state.lines.unshift(line);
    if (line.threshold === null) learnThreshold(line);
    return line;
  }

  function addProduct(product) {
    var key = "p:" + product.id;
    var existing = state.lines.find(function (line) { return line.key === key; });
    if (existing) {
      existing.count += SCALE;
      bringToTop(existing);
      return existing;
    }
    var line = {
      key: key, barcode: null, product: product, unit: product.base_unit, perScan: SCALE, count: SCALE,
      stock: null, stockAsOf: null,
      threshold: product.low_stock_threshold != null ? dec(product.low_stock_threshold) : null, error: null
    };
    state.lines.unshift(line);
    return line;
  }

  function bringToTop(line) {
    state.lines.splice(state.lines.indexOf(line), 1);
    state.lines.unshift(line);
  }

  function learnThreshold(line) {
    // The scan answer carries no threshold; the product search does. Off the scan's path.
    api("GET", "/api/v1/products?limit=5&q=" + encodeURIComponent(line.product.sku)).then(function (reply) {
      var found = reply.ok && reply.data && (reply.data.products || []).find(function (p) {
        return p.id === line.product.id;
      });
      if (found && found.low_stock_threshold != null) {
        line.threshold = dec(found.low_stock_threshold);
        render();
      }
    });
  }

  function sellable() { return state.lines.length > 0 && !state.done; }

  function saleBody() {
    var body = {
      id: uuid(),
      occurred_at: new Date().toISOString(),
      currency: state.currency || "USD",
      lines: state.lines.slice().reverse().map(function (line) {
        return line.barcode !== null
          ? {barcode: line.barcode, quantity: text3(line.count)}
          : {product_id: line.product.id, quantity: text3(baseQuantity(line))};
      })
    };
    if (locationId()) body.location_id = locationId();
    return body;
  }

  // --- the basket survives a reload (and a power cut): kept in this browser's storage -----
  // The pending attempt is kept too, so a sale whose answer was lost is retried under its id.

  var STORE_KEY = "makhzan.till.basket." + config.mode;
  var BIG = ["perScan", "count", "stock", "threshold"];

  function save() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({
        lines: state.lines.map(function (line) {
          var copy = Object.assign({}, line);
          BIG.forEach(function (k) { copy[k] = line[k] === null ? null : String(line[k]); });
          return copy;
        }),
        attempt: state.attempt, done: state.done, currency: state.currency
      }));
    } catch (e) { /* storage full or disabled: the till works without it */ }
  }

  function restore() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (!saved) return;
      state.lines = (saved.lines || []).map(function (line) {
        BIG.forEach(function (k) { line[k] = line[k] === null ? null : BigInt(line[k]); });
        return line;
      });
      state.attempt = saved.attempt || null;
      state.done = saved.done || null;
      state.currency = saved.currency || null;
    } catch (e) {
      state.lines = [];
    }
  }

  // --- drawing -----------------------------------------------------------------------------

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function hintFor(line) {
    if (line.error) return line.error;
    if (line.stock === null) return "";
    var left = line.stock - inBasket(line.product.id);
    if (left < 0n) return t("till.hint_short", {available: qty(line.stock), unit: unitName(line.product.base_unit)});
    if (line.threshold !== null && left <= line.threshold) {
      return t("till.hint_low", {left: qty(left), unit: unitName(line.product.base_unit)});
    }
    return "";
  }

  function unitName(unit) { return M["till.unit." + unit] || unit; }

  function render() {
    rowsEl.textContent = "";
    var total = 0n;
    state.lines.forEach(function (line) {
      var tr = document.createElement("tr");
      tr.dataset.key = line.key;
      tr.dataset.productId = line.product.id;
      var name = cell(tr);
      var strong = document.createElement("strong");
      strong.textContent = productName(line.product);
      name.appendChild(strong);
      if (line.perScan !== SCALE || line.unit !== line.product.base_unit) {
        var per = document.createElement("span");
        per.className = "muted per-scan";
        per.textContent = " × " + qty(line.perScan) + " " + unitName(line.product.base_unit);
        name.appendChild(per);
      }
      var hint = hintFor(line);
      if (hint) {
        var small = document.createElement("span");
        small.className = "hint";
        small.textContent = hint;
        name.appendChild(small);
      }
      var qtyCell = cell(tr, undefined, "num");
      var input = document.createElement("input");
      input.className = "qty";
      input.inputMode = "decimal";
      input.value = text3(line.count).replace(/\.?0+$/, "");
      input.setAttribute("aria-label", t("till.quantity"));
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); input.blur(); }
        if (event.key === "Escape") { input.value = text3(line.count); input.blur(); }
      });
      input.addEventListener("change", function () { setCount(line, input.value); });
      qtyCell.appendChild(input);
      cell(tr, money(unitPrice(line), state.currency || line.product.currency) + " / " +
        unitName(line.product.base_unit), "num");
      var lt = lineTotal(line);
      total += lt;
      cell(tr, money(lt, state.currency || line.product.currency), "num line-total");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger remove";
      remove.textContent = t("till.remove");
      remove.addEventListener("click", function () {
        state.lines.splice(state.lines.indexOf(line), 1);
        changed();
        refocus();
      });
      cell(tr).appendChild(remove);
      rowsEl.appendChild(tr);
    });
    $("empty").hidden = state.lines.length > 0;
    drawTotals(state.done ? dec(state.done.total) : total, state.done ? state.done.currency : state.currency);
    Array.prototype.forEach.call(document.querySelectorAll("[data-pay-in]"), function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.payIn === shownCurrency()));
      button.disabled = !!state.done;
    });
    $("complete").disabled = !sellable();
    save();
  }

  function shownCurrency() { return (state.done ? state.done.currency : state.currency) || "USD"; }

  function drawTotals(total, currency) {
    currency = currency || "USD";
    var other = currency === "USD" ? "LBP" : "USD";
    $("total").textContent = money(total, currency);
    if (state.rate) {
      var converted = currency === "USD" ? mul(total, state.rate) : divRound(total * SCALE, state.rate);
      $("total-other").textContent = money(converted, other);
      $("rate").textContent = t("till.rate", {rate: money(state.rate, "LBP")});
    } else {
      $("total-other").textContent = "";
    }
  }

  function setCount(line, text) {
    var clean = String(text).trim().replace(",", ".");
    if (!/^\d+(\.\d{1,3})?$/.test(clean) || dec(clean) <= 0n) {
      say(t("till.bad_quantity"), "error");
      render();
      return;
    }
    line.count = dec(clean);
    line.error = null;
    changed();
  }

  function say(text, kind) {
    messageEl.textContent = text;
    messageEl.className = "message" + (kind ? " alert " + kind : "");
  }

  function setOnline(online, pending) {
    state.online = online;
    var banner = $("banner");
    banner.className = "banner " + (online ? "online" : "offline");
    banner.dataset.online = online ? "true" : "false";
    $("banner-text").textContent = online ? t("till.online") : (AGENT ? t("till.offline_agent") : t("till.offline"));
    if (pending !== undefined) {
      state.pending = pending;
      var el = $("pending");
      el.hidden = pending === 0;
      el.textContent = " · " + t("till.pending", {count: qtyFormat.format(pending)});
      el.dataset.count = String(pending);
    }
  }

  // --- actions -----------------------------------------------------------------------------

  function scan(code) {
    startBasketIfDone();
    var key = "b:" + code;
    var existing = state.lines.find(function (line) { return line.key === key; });
    if (existing) {
      // The same label again: one more of it, without asking the server.
      existing.count += SCALE;
      bringToTop(existing);
      changed();
      flash(existing);
      return Promise.resolve();
    }
    var path = "/api/v1/scan/" + encodeURIComponent(code);
    if (!AGENT && locationId()) path += "?location_id=" + encodeURIComponent(locationId());
    return api("GET", path).then(function (reply) {
      if (!reply.ok) {
        say(errorText(reply), "error");
        return;
      }
      if (!AGENT) setOnline(true);
      var line = addScanned(reply.data);
      say("", "");
      changed();
      flash(line);
    });
  }

  function flash(line) {
    var row = rowsEl.querySelector('tr[data-key="' + CSS.escape(line.key) + '"]');
    if (row) {
      row.classList.add("flash");
      setTimeout(function () { row.classList.remove("flash"); }, 400);
    }
  }

  function complete() {
    if (!sellable()) return Promise.resolve();
    if (!state.attempt) state.attempt = {body: saleBody()};
    var attempt = state.attempt;
    $("complete").disabled = true;
    say(t("till.completing"), "");
    return api("POST", "/api/v1/sales", attempt.body).then(function (reply) {
      if (reply.ok) {
        state.done = reply.data;
        state.attempt = null;
        var total = money(dec(reply.data.total), reply.data.currency);
        say(reply.data.offline ? t("till.done_offline", {total: total}) : t("till.done", {total: total}), "ok");
        render();
        if (AGENT) pollStatus();
        return;
      }
      var error = (reply.data && reply.data.error) || {};
      if (reply.status === 409 && error.code === "insufficient_stock") {
        var parts = [];
        ((error.details && error.details.lines) || []).forEach(function (short) {
          state.lines.forEach(function (line) {
            if (line.product.id === short.product_id) {
              line.stock = dec(short.available);
              line.error = t("till.hint_short", {available: qty(dec(short.available)),
                                                 unit: unitName(line.product.base_unit)});
            }
          });
          var line = state.lines.find(function (l) { return l.product.id === short.product_id; });
          parts.push(t("till.short_line", {name: line ? productName(line.product) : "",
                                           available: qty(dec(short.available))}));
        });
        // Nothing was written: the basket can change and go again under a new id.
        state.attempt = null;
        say(t("till.insufficient") + " " + parts.join(" "), "error");
      } else if (reply.status === 0 || reply.status >= 500) {
        // Unanswered (or a gateway's error, which may come after the sale committed): the same
        // id and body go again on retry, so it is never sold twice.
        say(t("till.retry"), "error");
      } else {
        state.attempt = null;
        say(errorText(reply), "error");
      }
      render();
    });
  }

  function newSale() {
    state.lines = [];
    state.done = null;
    state.attempt = null;
    state.currency = state.baseCurrency;
    say("", "");
    render();
    refocus();
  }

  // --- search by name ----------------------------------------------------------------------

  var searchInput = $("search"), resultsEl = $("search-results"), searchTimer = null, searchSeq = 0;

  function search(text) {
    var seq = ++searchSeq;
    if (!text.trim()) { resultsEl.textContent = ""; return; }
    api("GET", "/api/v1/products?limit=10&q=" + encodeURIComponent(text.trim())).then(function (reply) {
      if (seq !== searchSeq) return;
      resultsEl.textContent = "";
      if (!reply.ok) { say(errorText(reply), "error"); return; }
      var products = (reply.data.products || []).filter(function (p) { return p.active !== false; });
      if (!products.length) {
        var none = document.createElement("p");
        none.className = "muted";
        none.textContent = t("till.no_results");
        resultsEl.appendChild(none);
      }
      products.forEach(function (product) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "search-result";
        button.textContent = productName(product) + " — " + money(dec(product.price), product.currency) +
          " / " + unitName(product.base_unit);
        button.addEventListener("click", function () {
          startBasketIfDone();
          var line = addProduct(product);
          changed();
          flash(line);
          searchInput.value = "";
          resultsEl.textContent = "";
          refocus();
        });
        resultsEl.appendChild(button);
      });
    });
  }

  searchInput.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { search(searchInput.value); }, 200);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      searchInput.value = "";
      resultsEl.textContent = "";
      refocus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      var value = searchInput.value.trim();
      // A scanner fired while the search had focus: it is a scan, not a search.
      if (/^\d{6,}$/.test(value)) {
        searchInput.value = "";
        resultsEl.textContent = "";
        enqueue(value);
        refocus();
      } else {
        clearTimeout(searchTimer);
        search(value);
      }
    }
  });

  // --- the scan field keeps the focus ------------------------------------------------------

  var queue = Promise.resolve();
  function inQueue(task) {
    // Scans (and completing a sale) are handled one after another, so a fast burst adds up
    // exactly; a task that throws is reported and does not stop the ones after it.
    queue = queue.then(task).catch(function (error) {
      say(t("till.failed"), "error");
      if (window.console) console.error(error);
    });
    return queue;
  }
  function enqueue(code) { return inQueue(function () { return scan(code); }); }

  $("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = scanInput.value.trim();
    scanInput.value = "";
    if (code) enqueue(code);
  });

  function isField(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }

  function refocus() {
    if (!isField(document.activeElement) || document.activeElement === scanInput) scanInput.focus();
  }

  scanInput.addEventListener("blur", function () {
    // Back to the scan field unless the cashier went to another field on purpose.
    setTimeout(function () { if (!isField(document.activeElement)) scanInput.focus(); }, 0);
  });
  document.addEventListener("keydown", function (event) {
    // F9 completes the sale from anywhere on the page (the scan field has the focus).
    if (event.key === "F9") {
      event.preventDefault();
      $("complete").click();
      return;
    }
    if (isField(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length === 1 || event.key === "Enter") scanInput.focus();
  });
  document.addEventListener("click", function (event) {
    if (!isField(event.target)) setTimeout(refocus, 0);
  });

  $("complete").addEventListener("click", function () {
    // In the scans' queue: a scan made while the sale is being recorded waits for its answer,
    // then starts the next basket instead of slipping into the one being sold.
    inQueue(function () { return complete().then(refocus); });
  });
  $("new-sale").addEventListener("click", newSale);
  Array.prototype.forEach.call(document.querySelectorAll("[data-pay-in]"), function (button) {
    button.addEventListener("click", function () {
      if (state.done || state.currency === button.dataset.payIn) return;
      // Another currency is another sale body: a pending attempt's id is not reused.
      state.currency = button.dataset.payIn;
      changed();
      refocus();
    });
  });
  if (locationSelect) {
    var saved = window.localStorage && localStorage.getItem("makhzan.till.location");
    if (saved && Array.prototype.some.call(locationSelect.options, function (o) { return o.value === saved; })) {
      locationSelect.value = saved;
    }
    locationSelect.addEventListener("change", function () {
      localStorage.setItem("makhzan.till.location", locationSelect.value);
      newSale();
    });
  }

  // --- settings and the online banner ------------------------------------------------------

  function loadSettings() {
    return api("GET", "/api/v1/settings").then(function (reply) {
      if (reply.ok && reply.data) {
        var first = state.currency === null;
        state.baseCurrency = reply.data.base_currency || state.baseCurrency;
        if (first) state.currency = state.baseCurrency;
        state.rate = reply.data.lbp_rate ? dec(reply.data.lbp_rate) : state.rate;
        render();
      }
    });
  }

  function pollStatus() {
    if (AGENT) {
      return api("GET", "/agent/status").then(function (reply) {
        if (reply.ok && reply.data) setOnline(!!reply.data.online, reply.data.pending_sales || 0);
      });
    }
    return fetch("/health", {cache: "no-store"}).then(function (r) { setOnline(r.ok); },
                                                      function () { setOnline(false); });
  }

  window.addEventListener("online", pollStatus);
  window.addEventListener("offline", function () { setOnline(false); });
  setInterval(pollStatus, AGENT ? 2000 : 5000);
  // The rate of the day can change while the till is open.
  setInterval(loadSettings, 60000);

  restore();
  render();
  loadSettings();
  pollStatus();
  scanInput.focus();
  // For tests and for the curious: the basket as the till sees it.
  window.makhzanTill = {state: state, complete: complete, newSale: newSale};
})();
