"use strict";
// The plant view: one card per line, redrawn from each push of /ws.
const colors = {
  grinding: "#3fb950", loading: "#2ea0a0", unloading: "#2ea0a0", idle: "#8a96a3", dressing: "#a371f7",
  tool_change: "#a371f7", starved: "#d29922", blocked: "#db6d28", alarm: "#f85149", maintenance: "#58a6ff",
  comm_lost: "#6e2b2b", offline: "#3a434d",
};
const order = Object.keys(colors);

function fmt(v, digits, unit) {
  if (v === null || v === undefined) return "—";
  return v.toFixed(digits) + (unit ? " " + unit : "");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function card(l) {
  const states = Object.entries(l.states).sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  const total = states.reduce((n, s) => n + s[1], 0) || 1;
  const bar = states.map(([s, n]) => `<span title="${esc(s)}: ${n}" style="width:${(100 * n) / total}%;background:${colors[s] || "#666"}"></span>`).join("");
  const legend = states.map(([s, n]) => `<span><i style="background:${colors[s] || "#666"}"></i>${esc(s.replace("_", " "))} ${n}</span>`).join("");
  const name = l.twin_url ? `<a href="${esc(l.twin_url)}" target="_blank" rel="noopener">${esc(l.name)}</a>` : esc(l.name);
  const alarms = l.alarms.map((a) => `<li>${esc(a.device)} ${esc(a.code)} ${esc(a.text)}</li>`).join("");
  return `<section class="card${l.stale ? " stale" : ""}" data-key="${esc(l.key)}" data-stale="${l.stale}">
    <h2>${name}<span class="badge">${l.stale ? "stale · " + esc(l.stale_reason) : "live"}</span></h2>
    <div class="sub">${esc(l.group)} · ${esc(l.node)} · bdSeq ${l.bd_seq}</div>
    <div class="bar">${bar}</div><div class="legend">${legend}</div>
    <div class="kpis">
      <div class="kpi"><small>OEE</small><b class="oee">${l.oee == null ? "—" : (100 * l.oee).toFixed(1) + " %"}</b></div>
      <div class="kpi"><small>takt (target)</small><b>${fmt(l.takt_s, 1, "s")}</b><small>${fmt(l.takt_target_s, 1, "s")}</small></div>
      <div class="kpi"><small>output today</small><b class="output">${l.output_today ?? "—"}</b><small>${l.good_today ?? "—"} good</small></div>
      <div class="kpi"><small>energy / good bur</small><b>${fmt(l.energy_per_good_bur_kwh, 3, "kWh")}</b></div>
      <div class="kpi"><small>alarms</small><b class="alarm-count">${l.alarms.length}</b></div>
      <div class="kpi"><small>grinders</small><b>${l.grinders}</b></div>
    </div>
    ${alarms ? `<ul class="alarms">${alarms}</ul>` : ""}
  </section>`;
}

function render(lines) {
  const main = document.getElementById("lines");
  main.innerHTML = lines.length ? lines.map(card).join("") : '<p class="empty">Waiting for lines to be born on the plant bus…</p>';
  const live = lines.filter((l) => !l.stale).length;
  document.getElementById("summary").textContent = `${lines.length} lines · ${live} live`;
  window.plantLines = lines;
}

function connect() {
  const conn = document.getElementById("conn");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { conn.textContent = "live"; conn.className = "meta"; };
  ws.onmessage = (e) => render(JSON.parse(e.data).lines);
  ws.onclose = () => { conn.textContent = "reconnecting…"; conn.className = "meta down"; setTimeout(connect, 1000); };
}
connect();
