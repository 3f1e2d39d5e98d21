#include "lb/admin/status_page.h"

namespace ballast {

namespace {

// Kept free of absolute URLs on purpose: the page must work on a host with
// no outside access, and the Content-Security-Policy sent with it allows
// nothing but this document and same-origin fetches. SVG elements are made
// with the namespace of the inline <svg> element for the same reason.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ballast status</title>
<style>
  :root { --ok:#2e7d32; --bad:#c62828; --ej:#ef6c00; --unk:#757575; --drn:#1565c0;
          --bg:#f6f7f9; --fg:#1d2330; --muted:#5f6878; --card:#fff; --line:#c9ced8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: baseline; padding: 12px 20px; background: #1d2330; color: #fff; }
  header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
  header .meta { color: #c5cad4; font-size: 13px; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
  main { padding: 12px 20px 40px; }
  #banner { display: none; margin: 0 0 12px; padding: 8px 12px; border-radius: 6px; background: #fdecea; color: #8a1c14; border: 1px solid #f3b8b1; }
  #tokenbox { display: none; margin: 0 0 12px; padding: 10px 12px; border-radius: 6px; background: #fff8e1; border: 1px solid #ecd38a; }
  #tokenbox input { width: 360px; max-width: 100%; font: inherit; padding: 3px 6px; }
  #tokenbox button, .tok button { font: inherit; padding: 3px 10px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px; margin-bottom: 16px; overflow-x: auto; }
  .stale { opacity: .45; }
  svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  .legend span { display: inline-flex; align-items: center; gap: 5px; margin-right: 14px; font-size: 13px; color: var(--muted); }
  .legend i { width: 12px; height: 12px; border-radius: 3px; display: inline-block; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7ec; vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; vertical-align: -1px; }
  .tok { float: right; font-size: 12px; color: var(--muted); }
  h2 { font-size: 15px; margin: 18px 0 8px; }
  .chartrow { display: flex; flex-wrap: wrap; gap: 10px 24px; align-items: flex-start; margin-bottom: 6px; }
  .chartrow .pname { width: 120px; font-weight: 600; padding-top: 14px; overflow: hidden; text-overflow: ellipsis; }
  .chart { font-size: 12px; color: var(--muted); }
  .chart svg { display: block; background: #fafbfc; border: 1px solid #e4e7ec; border-radius: 4px; }
  .act button { font: inherit; font-size: 12px; padding: 1px 7px; margin-right: 3px; }
  #actopts { margin: 0 0 8px; font-size: 13px; color: var(--muted); }
  #actopts input, #actopts select { font: inherit; padding: 2px 5px; }
  #actresult { margin-left: 10px; font-weight: 600; }
  #actresult.ok { color: var(--ok); }
  #actresult.err { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>ballast</h1>
  <span class="meta" id="meta">loading&hellip;</span>
  <span id="ready"></span>
  <span class="meta" id="updated"></span>
</header>
<main>
  <div id="banner"></div>
  <div id="tokenbox">
    <form id="tokenform">
      <b>This admin API requires a token.</b>
      Paste it here (kept in this tab's session storage only):
      <input id="token" type="password" autocomplete="off" placeholder="admin token">
      <button type="submit">Use token</button>
    </form>
  </div>
  <div class="legend">
    <span><i style="background:var(--ok)"></i>healthy</span>
    <span><i style="background:var(--bad)"></i>unhealthy</span>
    <span><i style="background:var(--ej)"></i>ejected</span>
    <span><i style="background:var(--drn)"></i>draining / drained</span>
    <span><i style="background:var(--unk)"></i>unknown / disabled</span>
    <span class="tok" id="tokstate"></span>
  </div>
  <div class="card" id="diagram"><svg id="topo" width="1040" height="120" role="img" aria-label="topology"></svg></div>
  <h2>Incidents</h2>
  <div class="card" id="incidents">none recorded</div>
  <h2>Last 15 minutes</h2>
  <div class="card" id="charts"></div>
  <h2>Backends</h2>
  <div id="actopts">
    Take a backend out or bring it back: reason <input id="act-reason" size="18" maxlength="256" placeholder="INC-4411">
    for <select id="act-for"><option value="15m">15 minutes</option><option value="1h" selected>1 hour</option>
    <option value="4h">4 hours</option><option value="">no expiry</option></select>
    <span id="actresult" role="status"></span>
  </div>
  <div class="card"><table id="backends"><thead><tr>
    <th>pool</th><th>backend</th><th>state</th><th>since</th><th>why</th><th>last probe</th>
    <th>active req</th><th>conns (active/idle)</th><th>req/min</th><th>err/min</th><th>act</th></tr></thead><tbody></tbody></table></div>
</main>
<script>
(function () {
  "use strict";
  var TOKEN_KEY = "ballast-admin-token";
  var svg = document.getElementById("topo");
  var NS = svg.namespaceURI;
  var COLORS = { healthy: "#2e7d32", unhealthy: "#c62828", ejected: "#ef6c00", unknown: "#757575",
                 disabled: "#757575", draining: "#1565c0", drained: "#1565c0" };
  var FILLS = { healthy: "#e8f5e9", unhealthy: "#ffebee", ejected: "#fff3e0", unknown: "#f1f1f1",
                disabled: "#eeeeee", draining: "#e3f2fd", drained: "#e3f2fd" };

  function $(id) { return document.getElementById(id); }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function setToken(t) { try { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) {} }

  function el(tag, attrs, parent, text) {
    var n = document.createElementNS(NS, tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) n.setAttribute(k, attrs[k]);
    if (text !== undefined) n.textContent = text;
    if (parent) parent.appendChild(n);
    return n;
  }
  function clip(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function ago(sec) {
    sec = Math.max(0, Math.floor(sec));
    if (sec < 60) return sec + "s";
    if (sec < 3600) return Math.floor(sec / 60) + "m " + (sec % 60) + "s";
    if (sec < 86400) return Math.floor(sec / 3600) + "h " + Math.floor((sec % 3600) / 60) + "m";
    return Math.floor(sec / 86400) + "d " + Math.floor((sec % 86400) / 3600) + "h";
  }
  function clock(iso) { var d = new Date(iso); return isNaN(d) ? iso : d.toLocaleTimeString(); }
  function probeText(p) {
    if (p === undefined) return "no health check";
    if (p === null) return "no probe yet";
    var s = p.result + (p.http_status ? " " + p.http_status : "") + " in " + p.latency_ms + "ms";
    if (p.result !== "pass" && p.reason) s += " (" + p.reason + ")";
    return s + ", " + ago(p.age_seconds) + " ago";
  }
  function poolColor(p) {
    if (p.available === 0) return COLORS.unhealthy;
    if (p.mode !== "normal" || p.available < p.size) return COLORS.ejected;
    return COLORS.healthy;
  }

  function node(g, x, y, w, h, stroke, fill, lines, title) {
    var grp = el("g", {}, g);
    if (title) el("title", {}, grp, title);
    el("rect", { x: x, y: y, width: w, height: h, rx: 7, fill: fill, stroke: stroke, "stroke-width": 2 }, grp);
    for (var i = 0; i < lines.length; i++) {
      var ln = lines[i];
      el("text", { x: x + 9, y: y + 17 + i * 15, "font-size": i === 0 ? 13 : 11.5,
                   "font-weight": i === 0 ? 700 : 400, fill: ln.color || (i === 0 ? "#1d2330" : "#4a5263") },
         grp, ln.text);
    }
    return grp;
  }
  function edge(g, x1, y1, x2, y2, color, dashed) {
    var mx = (x1 + x2) / 2;
    var a = { d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2,
              fill: "none", stroke: color || "#9aa3b2", "stroke-width": 1.6 };
    if (dashed) a["stroke-dasharray"] = "5 4";
    el("path", a, g);
  }

  function draw(st) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var COL = { lx: 10, lw: 170, rx: 240, rw: 200, px: 500, pw: 190, bx: 750, bw: 280 };
    var BH = 78, BG = 10, PG = 22, TOP = 30;
    el("text", { x: COL.lx, y: 16, "font-size": 12, fill: "#5f6878", "font-weight": 600 }, svg, "LISTENERS");
    el("text", { x: COL.rx, y: 16, "font-size": 12, fill: "#5f6878", "font-weight": 600 }, svg, "ROUTES");
    el("text", { x: COL.px, y: 16, "font-size": 12, fill: "#5f6878", "font-weight": 600 }, svg, "POOLS");
    el("text", { x: COL.bx, y: 16, "font-size": 12, fill: "#5f6878", "font-weight": 600 }, svg, "BACKENDS");
    var edges = el("g", {}, svg), nodes = el("g", {}, svg);

    // Backends stacked per pool; each pool centred on its backends.
    var y = TOP, poolY = {}, backendY = {};
    st.pools.forEach(function (p) {
      var n = Math.max(1, p.backends.length), h = n * BH + (n - 1) * BG;
      poolY[p.name] = y + h / 2;
      p.backends.forEach(function (b, i) { backendY[p.name + "|" + b.address] = y + i * (BH + BG); });
      y += h + PG;
    });
    var height = Math.max(y, TOP + 60);
    var RH = 50, LH = 44;
    var rTotal = st.routes.length * RH + Math.max(0, st.routes.length - 1) * 14;
    var rStart = TOP + Math.max(0, (height - TOP - PG - rTotal) / 2);
    var lTotal = st.listeners.length * LH + Math.max(0, st.listeners.length - 1) * 14;
    var lStart = TOP + Math.max(0, (height - TOP - PG - lTotal) / 2);
    height = Math.max(height, rStart + rTotal + PG, lStart + lTotal + PG);

    st.listeners.forEach(function (l, i) {
      var ly = lStart + i * (LH + 14);
      node(nodes, COL.lx, ly, COL.lw, LH, "#1d2330", "#fff", [{ text: clip(l.address, 24) }, { text: "proxy listener" }], l.address);
      st.routes.forEach(function (r, j) {
        edge(edges, COL.lx + COL.lw, ly + LH / 2, COL.rx, rStart + j * (RH + 14) + RH / 2);
      });
    });
    st.routes.forEach(function (r, j) {
      var ry = rStart + j * (RH + 14);
      var host = r.host || "any host", path = r.path_prefix || r.path || "any path";
      var split = r.split || [];
      var target = r.action === "return" ? "return " + r.return_status : r.action === "split" ? "split" : r.pool;
      var targets = r.action === "split" ? split.map(function (t) { return t.pool + " " + t.weight; }).join(", ") : target;
      node(nodes, COL.rx, ry, COL.rw, RH, "#5f6878", "#fff",
           [{ text: clip(host, 26) }, { text: clip(path, 22) + "  \u2192 " + clip(target, 12) }],
           "route " + r.name + ": host " + host + ", path " + path + " -> " + targets);
      var pools = r.action === "split" ? split.map(function (t) { return t.pool; }) : [r.pool];
      pools.forEach(function (pn) {
        if (poolY[pn] !== undefined) edge(edges, COL.rx + COL.rw, ry + RH / 2, COL.px, poolY[pn]);
      });
    });
    st.pools.forEach(function (p) {
      var ph = 62, py = poolY[p.name] - ph / 2, c = poolColor(p);
      node(nodes, COL.px, py, COL.pw, ph, c, "#fff",
           [{ text: clip(p.name, 22) }, { text: p.available + " of " + p.size + " available" },
            { text: "mode " + p.mode + ", " + p.balance + (p.zone_mode && p.zone_mode !== "off" ? ", zone " + p.zone_mode : "") +
                    (p.tunnels_active ? ", " + p.tunnels_active + " tunnels" : ""),
              color: p.mode === "normal" ? undefined : c }],
           "pool " + p.name + (p.health_check ? ", health check " + p.health_check.type : ", no health check"));
      p.backends.forEach(function (b) {
        var by = backendY[p.name + "|" + b.address], col = COLORS[b.state] || COLORS.unknown;
        var out = b.state === "disabled" || b.state === "drained" || b.state === "unhealthy" || b.state === "ejected";
        edge(edges, COL.px + COL.pw, py + ph / 2, COL.bx, by + BH / 2, col, out);
        var tag = (b.backup ? " backup" : "") + (b.weight !== 1 ? " w" + b.weight : "") + (b.zone ? " " + b.zone : "") +
                  (b.weight_factor !== undefined && b.weight_factor < 1 ? " ramp " + Math.round(b.weight_factor * 100) + "%" : "");
        var stateLine = b.state.toUpperCase() + " since " + clock(b.since) + " (" + ago(b.since_seconds) + ")";
        if (b.ejected && b.ejected_remaining_seconds !== undefined) stateLine = "EJECTED for " + ago(b.ejected_remaining_seconds) + " more";
        if (b.override) {
          stateLine = b.state.toUpperCase() + (b.override.reason ? " (" + b.override.reason + ")" : "") + " by " + b.override.by +
            (b.override.expires_in_seconds !== undefined ? ", back in " + ago(b.override.expires_in_seconds) : ", no expiry") +
            (b.override.stale ? " \u26a0" : "");
        }
        if (b.probes_vs_traffic && b.probes_vs_traffic !== "agree") {
          stateLine += b.probes_vs_traffic === "probes_pass_traffic_fails" ? " \u26a0 probes pass, traffic fails"
                                                                          : " \u26a0 probes fail, traffic ok";
        }
        node(nodes, COL.bx, by, COL.bw, BH, col, FILLS[b.state] || FILLS.unknown,
             [{ text: clip(b.address + tag, 36) }, { text: clip(stateLine, 44), color: col },
              { text: clip("probe: " + probeText(b.last_probe), 46) },
              { text: "active " + b.active_requests + " \u00b7 req/min " + b.requests_1m + " \u00b7 err/min " + b.errors_1m,
                color: b.errors_1m > 0 ? COLORS.unhealthy : undefined }],
             b.address + " in pool " + p.name + "\nstate " + b.state + " since " + b.since +
             "\nhealth " + b.health + ", admin " + b.admin + "\nlast probe: " + probeText(b.last_probe));
      });
    });
    svg.setAttribute("height", Math.ceil(height));
    svg.setAttribute("viewBox", "0 0 1040 " + Math.ceil(height));
  }

  function td(tr, text, cls) { var c = tr.insertCell(); c.textContent = text; if (cls) c.className = cls; return c; }
  function table(st) {
    var body = $("backends").tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    st.pools.forEach(function (p) {
      p.backends.forEach(function (b) {
        var tr = body.insertRow();
        td(tr, p.name);
        td(tr, b.address + (b.backup ? " (backup)" : ""));
        var c = td(tr, b.state);
        var dot = document.createElement("span");
        dot.className = "dot"; dot.style.background = COLORS[b.state] || COLORS.unknown;
        c.insertBefore(dot, c.firstChild);
        td(tr, clock(b.since) + " (" + ago(b.since_seconds) + " ago)").title = b.since;
        td(tr, b.override ? (b.override.reason || "(no reason)") + " \u00b7 " + b.override.by +
           (b.override.expires_in_seconds !== undefined ? " \u00b7 back in " + ago(b.override.expires_in_seconds)
                                                         : " \u00b7 no expiry") : "");
        td(tr, probeText(b.last_probe));
        td(tr, b.active_requests, "num");
        td(tr, b.active_connections + " / " + b.idle_connections, "num");
        var spark = td(tr, b.requests_1m, "num");
        if (b.requests_15m) spark.appendChild(sparkline(b.requests_15m, 60, 14, "#1565c0"));
        td(tr, b.errors_1m, "num");
        var acts = tr.insertCell();
        acts.className = "act";
        ["drain", "disable", "enable"].forEach(function (action) {
          var btn = document.createElement("button");
          btn.type = "button";
          btn.textContent = action;
          btn.setAttribute("data-action", action);
          btn.setAttribute("data-backend", b.address);
          btn.addEventListener("click", function () { act(p.name, b.address, action); });
          acts.appendChild(btn);
        });
      });
    });
  }

  // POST /pools/P/backends/B/ACTION with the reason and expiry chosen above;
  // the result (or the error ballast gave) is shown next to them.
  function act(pool, backend, action) {
    var q = [], reason = $("act-reason").value.trim(), dur = $("act-for").value;
    if (reason) q.push("reason=" + encodeURIComponent(reason));
    if (dur && action !== "enable") q.push("for=" + encodeURIComponent(dur));
    q.push("by=" + encodeURIComponent("status page"));
    var headers = {}, t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    var res = $("actresult");
    res.className = "";
    res.textContent = action + " " + backend + "\u2026";
    fetch("/pools/" + encodeURIComponent(pool) + "/backends/" + encodeURIComponent(backend) + "/" + action + "?" + q.join("&"),
          { method: "POST", headers: headers, cache: "no-store" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
    }).then(function (r) {
      if (r.status === 401) {
        $("tokenbox").style.display = "block";
        res.className = "err";
        res.textContent = action + " " + backend + ": a token is needed (401); paste it above and try again";
        return;
      }
      if (r.status !== 200) {
        res.className = "err";
        res.textContent = action + " " + backend + " failed (" + r.status + "): " + (r.body.error || "no details");
        return;
      }
      res.className = "ok";
      res.textContent = action + " " + backend + ": " + r.body.old + " \u2192 " + r.body["new"] +
        (r.body.override && r.body.override.expires ? " until " + clock(r.body.override.expires) : "");
      if (timer) clearTimeout(timer);
      poll();
    }).catch(function (e) {
      res.className = "err";
      res.textContent = action + " " + backend + " failed: " + (e && e.message ? e.message : e);
    });
  }

  function banner(text) { var b = $("banner"); b.textContent = text || ""; b.style.display = text ? "block" : "none"; }
  function stale(on) { $("diagram").classList.toggle("stale", !!on); }

  // A polyline over `values` (nulls are gaps) in a w x h SVG; max from the data.
  function sparkline(values, w, h, color, max) {
    var s = document.createElementNS(NS, "svg");
    s.setAttribute("width", w); s.setAttribute("height", h);
    s.setAttribute("viewBox", "0 0 " + w + " " + h);
    var top = max || 0;
    values.forEach(function (v) { if (v !== null && v > top) top = v; });
    if (top <= 0) top = 1;
    var pts = [], step = w / Math.max(1, values.length - 1);
    values.forEach(function (v, i) {
      if (v === null) return;
      pts.push((i * step).toFixed(1) + "," + (h - 1 - (v / top) * (h - 2)).toFixed(1));
    });
    var line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", color); line.setAttribute("stroke-width", "1.5");
    s.appendChild(line);
    return s;
  }
  function chart(title, values, unit, color) {
    var box = document.createElement("div");
    box.className = "chart";
    var last = null, peak = null;
    values.forEach(function (v) { if (v !== null) { last = v; peak = peak === null || v > peak ? v : peak; } });
    var label = document.createElement("div");
    label.textContent = title + ": " + (last === null ? "-" : fmt(last) + unit) + " (peak " + (peak === null ? "-" : fmt(peak) + unit) + ")";
    box.appendChild(label);
    box.appendChild(sparkline(values, 240, 48, color));
    return box;
  }
  function fmt(v) { return v >= 100 ? Math.round(v).toString() : (Math.round(v * 10) / 10).toString(); }
  // Per pool: request rate, error rate and p99 over the last 15 minutes
  // (10 s slots from /status; the last slot is still filling).
  function charts(st) {
    var root = $("charts");
    while (root.firstChild) root.removeChild(root.firstChild);
    st.pools.forEach(function (p) {
      if (!p.charts) return;
      var c = p.charts, sec = c.slot_seconds || 10;
      var rate = c.requests.map(function (n) { return n / sec; });
      var errPct = c.requests.map(function (n, i) { return n > 0 ? 100 * c.errors[i] / n : null; });
      var row = document.createElement("div");
      row.className = "chartrow";
      var name = document.createElement("div");
      name.className = "pname"; name.textContent = p.name;
      row.appendChild(name);
      row.appendChild(chart("requests/s", rate, "", "#1565c0"));
      row.appendChild(chart("errors", errPct, "%", "#c62828"));
      row.appendChild(chart("p99", c.p99_ms, " ms", "#ef6c00"));
      root.appendChild(row);
    });
  }

  // Open and recent incidents (the five newest), each with the end of its
  // timeline; text only (textContent), like the rest of the page.
  function hel(tag, parent, text) {
    var n = document.createElement(tag);
    n.textContent = text || "";
    parent.appendChild(n);
    return n;
  }
  function incidents(headers) {
    fetch("/incidents", { headers: headers, cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body) return;
      var root = $("incidents");
      var list = body.incidents.slice(0, 5);
      if (!list.length) { root.textContent = "none recorded"; return; }
      root.textContent = "";
      list.forEach(function (inc) {
        var d = inc.impact.during;
        var box = hel("div", root);
        hel("strong", box, inc.id);
        hel("span", box, " \u00b7 " + inc.state + " \u00b7 pool " + inc.pool + " \u00b7 " + inc.reason +
           " \u00b7 opened " + clock(inc.opened) + (inc.closed ? " \u00b7 closed " + clock(inc.closed) : "") +
           " \u00b7 " + d.failed + " of " + d.requests + " requests failed" +
           (inc.acked_at ? " \u00b7 acknowledged " + clock(inc.acked_at) + " by " + (inc.acked_by || "?") +
              (inc.note ? " (" + clip(inc.note, 80) + ")" : "") : ""));
        if (inc.state === "open" && !inc.acked_at) {
          // Stops the paging chain's escalation and repeats (POST /incidents/ID/ack).
          var ackb = hel("button", box, "acknowledge");
          ackb.type = "button";
          ackb.setAttribute("data-ack", inc.id);
          ackb.addEventListener("click", function () { ack(inc.id); });
        }
        var ul = hel("ul", box);
        fetch("/incidents/" + encodeURIComponent(inc.id), { headers: headers, cache: "no-store" }).then(function (r) {
          return r.ok ? r.json() : null;
        }).then(function (one) {
          if (!one) return;
          one.timeline.slice(-20).forEach(function (e) {
            hel("li", ul, clock(e.time) + " " + e.event + " " + clip(e.text, 200));
          });
        }).catch(function () {});
      });
    }).catch(function () {});
  }

  // POST /incidents/ID/ack as "status page" with the reason field above as
  // the note; the result is shown where the backend actions show theirs.
  function ack(id) {
    var headers = { "Content-Type": "application/json" }, t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    var res = $("actresult"), note = $("act-reason").value.trim();
    var body = { by: "status page" };
    if (note) body.note = note;
    res.className = "";
    res.textContent = "acknowledge " + id + "\u2026";
    fetch("/incidents/" + encodeURIComponent(id) + "/ack",
          { method: "POST", headers: headers, cache: "no-store", body: JSON.stringify(body) }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; });
    }).then(function (r) {
      if (r.status === 401) {
        $("tokenbox").style.display = "block";
        res.className = "err";
        res.textContent = "acknowledge " + id + ": a token is needed (401); paste it above and try again";
        return;
      }
      if (r.status !== 200) {
        res.className = "err";
        res.textContent = "acknowledge " + id + " failed (" + r.status + "): " + (r.body.error || "no details");
        return;
      }
      res.className = "ok";
      res.textContent = "acknowledged " + id + " by " + (r.body.acked_by || "status page");
      if (timer) clearTimeout(timer);
      poll();
    }).catch(function (e) {
      res.className = "err";
      res.textContent = "acknowledge " + id + " failed: " + (e && e.message ? e.message : e);
    });
  }

  function render(st) {
    $("meta").textContent = "v" + st.version + " \u00b7 pid " + st.pid + " \u00b7 up " + ago(st.uptime_seconds) +
        " \u00b7 " + st.listeners.length + " listener(s), " + st.routes.length + " route(s), " + st.pools.length + " pool(s)";
    var r = $("ready");
    r.className = "badge";
    r.style.background = st.ready ? COLORS.healthy : COLORS.unhealthy;
    r.textContent = st.ready ? "ready" : "not ready";
    r.title = st.ready_reason;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("tokstate").textContent = token() ? "using a token" : "";
    draw(st);
    charts(st);
    table(st);
  }

  var timer = null, generation = 0;
  function poll() {
    var gen = ++generation;
    var headers = { "Accept": "application/json" };
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    fetch("/status", { headers: headers, cache: "no-store" }).then(function (res) {
      if (res.status === 401) {
        $("tokenbox").style.display = "block";
        banner(t ? "The token was refused (401). Paste the right one." : "");
        stale(true);
        return null;
      }
      if (!res.ok) throw new Error("/status answered " + res.status);
      return res.json();
    }).then(function (st) {
      if (!st) return;
      $("tokenbox").style.display = "none";
      banner("");
      stale(false);
      render(st);
      incidents(headers);
    }).catch(function (e) {
      banner("Cannot reach ballast: " + (e && e.message ? e.message : e) + " (showing the last known state)");
      stale(true);
    }).then(function () {
      if (gen === generation) timer = setTimeout(poll, 2000);  // one polling chain only
    });
  }

  $("tokenform").addEventListener("submit", function (ev) {
    ev.preventDefault();
    setToken($("token").value.trim());
    $("token").value = "";
    if (timer) clearTimeout(timer);
    poll();
  });
  poll();
})();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view statusPageHtml() { return kPage; }

}  // namespace ballast
