// Pilotline digital twin: floor plan, header KPIs, alarms, timeline and the
// grinder panel, all fed by the /ws/twin stream.
import { connect } from "./stream.js";
import { t, stateLabel, name, parseTime, isoDateTime, isoTime, pct, getLang, setLang } from "./i18n.js";

// Floor geometry, in SVG units (viewBox 1290 × 1010).
const TILE_W = 200, TILE_H = 128, COL_PITCH = 220, X0 = 170, Y0 = 14, ROW_PITCH = 176, RING_R = 30;
const RING_C = 2 * Math.PI * RING_R;
const TREND_MAX = 240;

// Okabe–Ito colours, each state also has its own shape and label.
const STATE_COLOR = {
  grinding: "#009E73", measuring: "#009E73", idle: "#56B4E9", loading: "#3D9BE0", unloading: "#3D9BE0", moving: "#3D9BE0",
  dressing: "#E69F00", tool_change: "#E69F00", alarm: "#D55E00", starved: "#F0E442", blocked: "#F0E442",
  maintenance: "#CC79A7", comm_lost: "#8A939C", offline: "#5C656E",
};
const ICON = {
  grinding: '<path d="M8 4 L21 12 L8 20 Z"/>',
  measuring: '<path d="M3 9 H21 V15 H3 Z M7 9 V12 M11 9 V13 M15 9 V12 M19 9 V13" fill="none" stroke-width="2"/>',
  idle: '<rect x="6" y="5" width="4" height="14"/><rect x="14" y="5" width="4" height="14"/>',
  loading: '<path d="M12 20 L5 12 H9.5 V4 H14.5 V12 H19 Z"/>',
  unloading: '<path d="M12 4 L19 12 H14.5 V20 H9.5 V12 H5 Z"/>',
  moving: '<path d="M2 12 L8 6 V10 H16 V6 L22 12 L16 18 V14 H8 V18 Z"/>',
  dressing: '<path d="M12 2 L22 12 L12 22 L2 12 Z"/>',
  tool_change: '<circle cx="12" cy="12" r="9" fill="none" stroke-width="3"/><circle cx="12" cy="12" r="3"/>',
  alarm: '<path d="M12 2 L23 21 H1 Z"/><path d="M11 8 H13 V15 H11 Z M11 17 H13 V19 H11 Z" fill="#1b1f24"/>',
  starved: '<circle cx="12" cy="12" r="8.5" fill="none" stroke-width="3"/>',
  blocked: '<rect x="4" y="4" width="16" height="16"/>',
  maintenance: '<path d="M4 20 L13 11" stroke-width="4" fill="none"/><circle cx="16" cy="8" r="5.5" fill="none" stroke-width="3"/>',
  comm_lost: '<path d="M5 5 L19 19 M19 5 L5 19" stroke-width="4" fill="none"/>',
  offline: '<path d="M4 12 H20" stroke-width="4" fill="none"/>',
};
const LEGEND = ["grinding", "idle", "loading", "unloading", "dressing", "tool_change", "alarm", "starved", "blocked", "maintenance", "comm_lost", "offline"];

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const color = (s) => STATE_COLOR[s] || "#8A939C";

let S = null; // current snapshot
let online = false;
let lostSince = null;
let selected = null;
const trends = {}; // grinder id → {load: [{t,v}], coolant: [{t,v}]}
const acked = new Set(JSON.parse(localStorage.getItem("pilotline.acked") || "[]"));
let lastTray = null;

function icon(state, x, y, size) {
  const c = color(state);
  const k = size / 24;
  return `<g transform="translate(${x},${y}) scale(${k})" fill="${c}" stroke="${c}">${ICON[state] || ICON.offline}</g>`;
}

function colX(col) { return X0 + (col - 1) * COL_PITCH; }
function rowY(row) { return Y0 + (row - 1) * ROW_PITCH; }
function railY(row) { return rowY(row) + TILE_H + 24; }

// placeX is where a robot stands in front of a machine or station.
function placeX(id) {
  const g = S.grinders.find((x) => x.id === id);
  if (g) return colX(g.col) + TILE_W / 2;
  const st = S.line.stations.find((x) => x.id === id);
  if (st?.kind === "magazine") return 75;
  if (st?.kind === "output") return colX(4) + COL_PITCH / 2 + TILE_W / 2;
  if (st) return colX(st.col) + TILE_W / 2;
  return X0;
}

// ---------- floor plan ----------

function buildFloor() {
  const rows = Math.max(...S.grinders.map((g) => g.row));
  let h = `<title>${esc(t("floor"))}</title>
  <defs><pattern id="hatch" width="12" height="12" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
  <rect width="12" height="12" fill="#23272c"/><line x1="0" y1="0" x2="0" y2="12" stroke="#3b4149" stroke-width="6"/></pattern></defs>`;
  for (let r = 1; r <= rows; r++) {
    const g = S.grinders.find((x) => x.row === r);
    const grp = S.line.groups.find((x) => x.id === g?.group);
    h += `<text class="grouplabel" x="8" y="${rowY(r) + 22}">${esc(name(grp) || g?.group)}</text>`;
    h += `<text class="grouplabel code" x="8" y="${rowY(r) + 42}">${esc(g?.group || "")}</text>`;
    const rob = S.robots.find((x) => x.row === r);
    const x1 = rob?.serves.includes(S.magazine.id) ? 60 : X0 + 20;
    h += `<line class="rail" x1="${x1}" y1="${railY(r)}" x2="${colX(5) + TILE_W - 20}" y2="${railY(r)}"/>`;
  }
  for (const g of S.grinders) {
    h += `<g class="tile" data-id="${g.id}" transform="translate(${colX(g.col)},${rowY(g.row)})"></g>`;
  }
  // Magazine beside row 1, inspection and tray below the last row.
  h += `<g class="station" id="st-mag" transform="translate(8,${rowY(1) + 52})"></g>`;
  h += `<g class="station" id="st-qc" transform="translate(${colX(3)},${rowY(rows + 1)})"></g>`;
  h += `<g class="station" id="st-out" transform="translate(${colX(4)},${rowY(rows + 1)})"></g>`;
  for (const r of S.robots) {
    h += `<g class="robot" data-id="${r.id}"><rect x="-26" y="-17" width="52" height="34" rx="8"/>
      <text x="0" y="6" text-anchor="middle">${r.id}</text><circle class="bur" cx="22" cy="-15" r="7" visibility="hidden"/></g>`;
  }
  $("#floor").innerHTML = h;
  for (const el of document.querySelectorAll(".tile")) el.addEventListener("click", () => openPanel(el.dataset.id));
  for (const g of S.grinders) renderTile(g);
  renderRobots();
  renderStations();
}

function renderTile(g) {
  const el = document.querySelector(`.tile[data-id="${g.id}"]`);
  if (!el) return;
  const lost = g.comm === "lost" || g.comm === "stale" || g.state === "comm_lost";
  const c = color(g.state);
  const prog = g.state === "grinding" ? g.progress : g.state === "unloading" ? 1 : 0;
  const nActive = (g.alarms || []).length;
  let h = `<rect class="bg" width="${TILE_W}" height="${TILE_H}" rx="12" stroke="${c}" stroke-width="${g.state === "alarm" ? 6 : 3}"/>`;
  if (lost) h += `<rect width="${TILE_W}" height="${TILE_H}" rx="12" fill="url(#hatch)" stroke="${c}" stroke-width="3"/>`;
  h += `<circle class="ring-bg" cx="44" cy="52" r="${RING_R}"/>`;
  h += `<circle class="ring" cx="44" cy="52" r="${RING_R}" stroke="${c}" stroke-dasharray="${RING_C}" stroke-dashoffset="${RING_C * (1 - prog)}" transform="rotate(-90 44 52)"/>`;
  h += icon(g.state, 30, 38, 28);
  h += `<text class="id" x="88" y="44">${g.id}</text>`;
  h += `<text class="st" x="88" y="72" fill="${lost ? "#c9d1d9" : c}">${esc(stateLabel(g.state))}${g.state === "grinding" ? ` ${Math.round(g.progress * 100)}%` : ""}</text>`;
  if (nActive) h += `<g transform="translate(${TILE_W - 34},10)">${icon("alarm", 0, 0, 24)}</g>`;
  if (lost) {
    const since = parseTime(g.last_data);
    h += `<text class="nodata" x="12" y="102">${esc(since ? t("noDataSince", { t: isoTime(since) }) : t("noData"))}</text>`;
  } else {
    h += `<text class="serial" x="12" y="102">${esc(g.serial || "—")}</text>`;
  }
  const oee = g.oee ? ` · OEE ${Math.round(g.oee.oee * 100)}%` : "";
  h += `<text class="meta" x="12" y="121">${esc(t("today"))} ${g.today}${oee}</text>`;
  el.innerHTML = h;
  el.dataset.state = g.state;
  el.dataset.comm = g.comm;
  el.classList.toggle("lost", lost);
  el.classList.toggle("sel", selected === g.id);
}

function renderRobots() {
  for (const r of S.robots) {
    const el = document.querySelector(`.robot[data-id="${r.id}"]`);
    if (!el) continue;
    const where = r.state === "moving" || r.state === "loading" ? r.target || r.at : r.at || r.target;
    el.style.transform = `translate(${placeX(where)}px,${railY(r.row)}px)`;
    el.querySelector(".bur").setAttribute("visibility", r.bur ? "visible" : "hidden");
    el.dataset.state = r.state;
    el.dataset.at = where || "";
  }
}

function renderStations() {
  const m = S.magazine;
  const mfill = m.capacity ? m.count / m.capacity : 0;
  $("#st-mag").innerHTML = `<rect class="bg" width="140" height="92" rx="10"/>
    <text class="title" x="10" y="24">${esc(t("magazine"))}</text>
    <text class="val" x="10" y="60">${m.count}</text><text class="meta" x="10" y="80">${esc(t("blanks"))} / ${m.capacity}</text>
    <rect x="118" y="32" width="12" height="50" fill="#38414c"/><rect x="118" y="${32 + 50 * (1 - mfill)}" width="12" height="${50 * mfill}" fill="#56B4E9"/>`;
  const q = S.inspection;
  const last = q.last;
  const qc = color(q.state);
  $("#st-qc").innerHTML = `<rect class="bg" width="${TILE_W}" height="104" rx="10" stroke="${qc}" stroke-width="3"/>
    ${icon(q.state, 12, 12, 24)}<text class="title" x="44" y="32">${esc(q.id)} ${esc(t("inspection"))}</text>
    <text class="meta" x="12" y="58">${esc(stateLabel(q.state))} · ${esc(t("pass"))} ${q.passed} · ${esc(t("fail"))} ${q.failed}</text>
    ${last ? `<text class="serial" x="12" y="80">${esc(last.serial)}</text>
      <text x="12" y="98" font-size="15" font-weight="700" fill="${last.pass ? "#009E73" : "#D55E00"}">${last.pass ? "✔ " + esc(t("pass")) : "✘ " + esc(t("fail")) + " " + esc((last.failed || []).join(", "))}</text>` : ""}`;
  const o = S.output;
  const n = Number(o.count);
  let slots = "";
  const shown = n % 24 === 0 && n > 0 ? 24 : n % 24;
  for (let i = 0; i < 24; i++) {
    const cx = 236 + (i % 8) * 22, cy = 24 + Math.floor(i / 8) * 22;
    const isNew = i === shown - 1 && lastTray !== null && n > lastTray;
    slots += i < shown ? `<circle class="tray-bur${isNew ? " new" : ""}" cx="${cx}" cy="${cy}" r="6"/>` : `<circle cx="${cx}" cy="${cy}" r="6" fill="#38414c"/>`;
  }
  lastTray = n;
  $("#st-out").innerHTML = `<rect class="bg" width="${COL_PITCH + TILE_W}" height="104" rx="10"/>
    <text class="title" x="12" y="28">${esc(t("output"))}</text>
    <text class="val" x="12" y="66" id="tray-count">${n}</text><text class="meta" x="12" y="88">${esc(t("delivered"))}</text>
    <text class="serial" x="120" y="62">${esc((o.last_serials || [])[0] || "")}</text>
    <text class="serial" x="120" y="80">${esc((o.last_serials || [])[1] || "")}</text>
    <text class="serial" x="120" y="98">${esc((o.last_serials || [])[2] || "")}</text>
    <g transform="translate(0,0)">${slots}</g>`;
}

// ---------- header ----------

function renderHeader() {
  const p = S.production;
  $("#line-name").textContent = getLang() === "zh" && S.line.name_zh ? S.line.name_zh : S.line.name;
  const tk = p.takt || {};
  const actual = tk.rolling_s || tk.last_s;
  const target = Math.round(tk.target_s || S.line.takt_s);
  $("#takt-actual").textContent = actual ? `${target} / ${actual.toFixed(0)}` : `${target} / —`;
  const behind = actual && actual > target * 1.02;
  const bar = $("#kpi-takt .bar");
  bar.classList.toggle("behind", !!behind);
  $("#takt-bar").style.width = actual ? `${Math.min(100, (actual / (2 * target)) * 100)}%` : "0";
  $("#takt-target-mark").style.left = "50%";
  $("#takt-note").textContent = actual
    ? `${behind ? "▲ " + t("behind") : "● " + t("onPace")} · ${t("last")} ${tk.last_s ? tk.last_s.toFixed(0) : "—"} s · ${t("rolling")} ${tk.rolling_s ? tk.rolling_s.toFixed(0) : "—"} s`
    : t("target") + ` ${target} s`;
  $("#burs-today").textContent = p.burs_today ?? 0;
  $("#burs-note").textContent = p.good_today ? `${t("pass")} ${p.good_today}` : `${t("output")} ${S.output.count}`;
  const o = p.oee;
  $("#oee").textContent = o ? pct(o.oee) : "—";
  const f = (k, v) => `<span>${esc(t(k))}</span><div class="mini"><div data-w="${v == null ? 0 : Math.min(100, v * 100)}"></div></div><span>${pct(v)}</span>`;
  $("#oee-factors").innerHTML = f("availability", o?.availability) + f("performance", o?.performance) + f("quality", o?.quality);
  $("#energy").textContent = p.energy_per_bur_kwh ? p.energy_per_bur_kwh.toFixed(2) : "—";
  $("#carbon").textContent = p.carbon_per_bur_kg ? t("carbon", { v: p.carbon_per_bur_kg.toFixed(3) }) : "";
  $("#batches").innerHTML = (p.batches || []).slice(0, 3).map((b) => {
    const done = b.quantity ? b.completed / b.quantity : 0;
    const prod = getLang() === "zh" && b.product_name_zh ? b.product_name_zh : b.product_name || b.product;
    return `<div class="batch" data-id="${esc(b.id)}"><span><b>${esc(b.id)}</b> ${esc(prod)}</span><span>${b.completed} ${t("of")} ${b.quantity}</span>
      <div class="bar"><div data-w="${Math.min(100, done * 100)}"></div></div></div>`;
  }).join("") || `<div class="note">—</div>`;
  widths($("#top"));
  const lt = parseTime(S.time);
  $("#clock").textContent = lt ? `${t("lineTime")} ${isoDateTime(lt)}` : "";
}

// widths sizes bars from data-w (percent): the page's CSP forbids inline style attributes.
function widths(root) {
  for (const el of root.querySelectorAll("[data-w]")) el.style.width = `${el.dataset.w}%`;
}

// ---------- alarms ----------

function activeAlarms() {
  const out = [];
  for (const g of S.grinders) for (const a of g.alarms || []) out.push({ m: g.id, a });
  for (const a of S.inspection.alarms || []) out.push({ m: S.inspection.id, a });
  return out.sort((x, y) => Date.parse(y.a.raised) - Date.parse(x.a.raised));
}

function renderBanner() {
  const b = $("#banner");
  if (!online) {
    b.hidden = false;
    b.className = "banner offline";
    b.innerHTML = `<div class="alarm">⚠ ${esc(t("serverLost", { t: isoDateTime(lostSince) }))}</div>`;
    return;
  }
  const all = activeAlarms();
  const open = all.filter((x) => !acked.has(`${x.m}:${x.a.seq}`));
  b.className = "banner";
  if (!all.length) { b.hidden = true; b.innerHTML = ""; return; }
  b.hidden = false;
  let h = open.slice(0, 3).map((x) => {
    const text = getLang() === "zh" && x.a.text_zh ? x.a.text_zh : x.a.text;
    return `<div class="alarm">${icon("alarm", 0, 0, 22).replace("<g", '<svg width="22" height="22"><g').replace(/<\/g>$/, "</g></svg>")}
      <b>${esc(x.m)}</b> <span>${esc(x.a.code)} ${esc(text)}</span><span class="acked">${isoDateTime(parseTime(x.a.raised))}</span>
      <button data-ack="${esc(x.m)}:${x.a.seq}">${esc(t("ack"))}</button></div>`;
  }).join("");
  if (open.length > 3) h += `<div class="acked">+${open.length - 3}</div>`;
  const n = all.length - open.length;
  if (n) h += `<div class="acked">${esc(t("acked", { n }))}</div>`;
  b.innerHTML = h;
  for (const btn of b.querySelectorAll("button[data-ack]")) {
    btn.addEventListener("click", () => {
      acked.add(btn.dataset.ack);
      localStorage.setItem("pilotline.acked", JSON.stringify([...acked].slice(-500)));
      renderBanner();
    });
  }
}

// ---------- timeline (Gantt) ----------

function fitCanvas(c) {
  const r = c.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(50, Math.round(r.width * dpr)), h = Math.max(50, Math.round(r.height * dpr));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w: r.width, h: r.height };
}

function stripes(ctx, x, y, w, h) {
  ctx.save();
  ctx.beginPath(); ctx.rect(x, y, w, h); ctx.clip();
  ctx.strokeStyle = "rgba(0,0,0,.45)"; ctx.lineWidth = 2;
  for (let i = -h; i < w; i += 6) { ctx.beginPath(); ctx.moveTo(x + i, y + h); ctx.lineTo(x + i + h, y); ctx.stroke(); }
  ctx.restore();
}

function renderGantt() {
  const { ctx, w, h } = fitCanvas($("#gantt"));
  ctx.clearRect(0, 0, w, h);
  const now = Date.parse(S.time);
  if (isNaN(now) || now < 1e11) return;
  const from = now - 3600e3, L = 46, axis = 22;
  const rowH = (h - axis) / S.grinders.length;
  const X = (tm) => L + ((tm - from) / 3600e3) * (w - L - 4);
  ctx.font = `${Math.min(14, rowH * 0.7)}px sans-serif`;
  ctx.textBaseline = "middle";
  S.grinders.forEach((g, i) => {
    const y = i * rowH;
    ctx.fillStyle = "#9aa6b2";
    ctx.fillText(g.id, 4, y + rowH / 2);
    const tl = S.timeline[g.id] || [];
    tl.forEach((sp, j) => {
      const a = Math.max(from, Date.parse(sp.from));
      const b = j + 1 < tl.length ? Date.parse(tl[j + 1].from) : now;
      if (b <= from) return;
      ctx.fillStyle = color(sp.state);
      const x = X(a), ww = Math.max(1, X(b) - X(a));
      ctx.fillRect(x, y + 2, ww, rowH - 4);
      if (sp.state === "alarm" || sp.state === "comm_lost") stripes(ctx, x, y + 2, ww, rowH - 4);
    });
    if (g.row !== S.grinders[i + 1]?.row) {
      ctx.fillStyle = "#38414c"; ctx.fillRect(L, y + rowH - 0.5, w - L, 1);
    }
  });
  ctx.fillStyle = "#9aa6b2";
  ctx.textBaseline = "alphabetic";
  for (let k = 0; k <= 6; k++) {
    const tm = from + k * 600e3;
    const x = X(tm);
    ctx.fillRect(x, h - axis, 1, 5);
    const d = new Date(tm);
    const s = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    ctx.fillText(s, Math.min(w - 36, Math.max(L, x - 16)), h - 4);
  }
}

// ---------- legend ----------

function renderLegend() {
  $("#legend").innerHTML = LEGEND.map((s) =>
    `<div class="item"><svg viewBox="0 0 24 24">${ICON[s].replace(/^/, `<g fill="${color(s)}" stroke="${color(s)}">`)}</g></svg><span>${esc(stateLabel(s))}</span></div>`).join("");
}

// ---------- panel ----------

function pushTrend(g, tm) {
  const tr = (trends[g.id] ||= { load: [], coolant: [] });
  if (g.comm !== "ok") return;
  tr.load.push({ t: tm, v: g.spindle_load_pct });
  tr.coolant.push({ t: tm, v: g.coolant_c });
  if (tr.load.length > TREND_MAX) { tr.load.shift(); tr.coolant.shift(); }
}

function openPanel(id) {
  selected = id;
  $("#panel").hidden = false;
  for (const el of document.querySelectorAll(".tile")) el.classList.toggle("sel", el.dataset.id === id);
  renderPanel();
}

function closePanel() {
  selected = null;
  $("#panel").hidden = true;
  for (const el of document.querySelectorAll(".tile.sel")) el.classList.remove("sel");
}

function renderPanel() {
  if (!selected || !S) return;
  const g = S.grinders.find((x) => x.id === selected);
  if (!g) return;
  const grp = S.line.groups.find((x) => x.id === g.group);
  const dd = (k, v) => `<dt>${esc(t(k))}</dt><dd>${v}</dd>`;
  const commKey = { ok: "commOK", lost: "commLost", stale: "commStale", never: "commNever" }[g.comm] || "commNever";
  const lastData = parseTime(g.last_data);
  $("#panel-head").innerHTML = `<div class="ident">${esc(g.id)}</div>
    <div class="state"><svg width="26" height="26" viewBox="0 0 24 24"><g fill="${color(g.state)}" stroke="${color(g.state)}">${ICON[g.state] || ""}</g></svg>
      <span data-color="${color(g.state)}">${esc(stateLabel(g.state))}</span>
      <span class="since">${esc(t("stateSince", { t: isoDateTime(parseTime(g.since)) }))}</span></div>
    <dl>${dd("group", `${esc(name(grp))} (${esc(g.group)})`)}${dd("model", esc(g.model))}${dd("position", esc(t("rowCol", { r: g.row, c: g.col })))}
    ${dd("mode", esc(g.mode || "—"))}${dd("program", `${esc(g.program || "—")} ${g.program_version ? "v" + esc(g.program_version) : ""}`)}
    ${dd("serial", `<b>${esc(g.serial || "—")}</b>`)}
    ${dd("spindle", `${g.spindle_rpm.toFixed(0)} ${t("rpm")} · ${g.spindle_load_pct.toFixed(1)} %`)}
    ${dd("wheel", `${esc(g.wheel_id || "—")} · ⌀ ${g.wheel_diameter_mm.toFixed(3)} mm · ${t("wear")} ${g.wheel_wear_um.toFixed(1)} µm · ${t("dress")} ${g.dress_count}`)}
    ${dd("counter", `${g.counter} · ${t("today")} ${g.today}`)}
    ${dd("oee", g.oee ? `${pct(g.oee.oee)} (${t("availability")} ${pct(g.oee.availability)} · ${t("performance")} ${pct(g.oee.performance)} · ${t("quality")} ${pct(g.oee.quality)})` : "—")}
    ${dd("comm", `${esc(t(commKey))}${g.comm !== "ok" && lastData ? " · " + esc(t("noDataSince", { t: isoDateTime(lastData) })) : ""}`)}</dl>`;
  for (const el of $("#panel-head").querySelectorAll("[data-color]")) el.style.color = el.dataset.color;
  const tr = trends[g.id] || { load: [], coolant: [] };
  drawLine($("#chart-load"), tr.load, "#56B4E9", "%");
  drawLine($("#chart-coolant"), tr.coolant, "#E69F00", "°C");
  drawBars($("#chart-cycles"), (g.cycles || []).map((c) => ({ v: c.cycle_s, bad: c.aborted })));
  const hist = g.alarm_history || [];
  $("#panel-alarms").innerHTML = `<h3>${esc(t("alarms"))}</h3><div class="alist">${hist.length ? hist.map((a) => {
    const text = getLang() === "zh" && a.text_zh ? a.text_zh : a.text;
    const cl = parseTime(a.cleared);
    return `<div class="${cl ? "" : "active"}">${isoDateTime(parseTime(a.raised))} · <b>${esc(a.code)}</b> ${esc(text)} · ${cl ? esc(t("cleared")) + " " + isoTime(cl) : esc(t("active"))}</div>`;
  }).join("") : esc(t("noAlarms"))}</div>`;
}

function drawLine(c, pts, col, unit) {
  const { ctx, w, h } = fitCanvas(c);
  c.dataset.points = pts.length;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "12px sans-serif";
  if (pts.length < 1) return;
  let lo = Math.min(...pts.map((p) => p.v)), hi = Math.max(...pts.map((p) => p.v));
  if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const L = 40, R = 60;
  const X = (x) => L + ((x - t0) / (t1 - t0)) * (w - L - R), Y = (v) => 8 + (1 - (v - lo) / (hi - lo)) * (h - 24);
  ctx.strokeStyle = "#38414c"; ctx.fillStyle = "#9aa6b2"; ctx.lineWidth = 1;
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) {
    ctx.beginPath(); ctx.moveTo(L, Y(v)); ctx.lineTo(w - R, Y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(1), 2, Y(v) + 4);
  }
  ctx.strokeStyle = col; ctx.lineWidth = 2; ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(X(p.t), Y(p.v)) : ctx.moveTo(X(p.t), Y(p.v))));
  ctx.stroke();
  const last = pts[pts.length - 1];
  ctx.fillStyle = col; ctx.font = "bold 15px sans-serif";
  ctx.fillText(`${last.v.toFixed(1)} ${unit}`, w - R + 4, Y(last.v) + 5);
}

function drawBars(c, bars) {
  const { ctx, w, h } = fitCanvas(c);
  c.dataset.points = bars.length;
  ctx.clearRect(0, 0, w, h);
  if (!bars.length) return;
  const hi = Math.max(...bars.map((b) => b.v)) * 1.1 || 1;
  const L = 40, bw = (w - L - 10) / Math.max(bars.length, 10);
  ctx.fillStyle = "#9aa6b2"; ctx.font = "12px sans-serif";
  ctx.fillText(hi.toFixed(0), 2, 14);
  bars.forEach((b, i) => {
    const bh = (b.v / hi) * (h - 20);
    ctx.fillStyle = b.bad ? "#D55E00" : "#009E73";
    ctx.fillRect(L + i * bw + 1, h - 4 - bh, bw - 2, bh);
  });
  const last = bars[bars.length - 1];
  ctx.fillStyle = "#e8ecf0"; ctx.font = "bold 15px sans-serif";
  ctx.fillText(`${last.v.toFixed(0)} s`, w - 70, 16);
}

// ---------- wiring ----------

function renderAll() {
  if (!S) return;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang").textContent = getLang() === "zh" ? "English" : "中文";
  buildFloor();
  renderHeader();
  renderBanner();
  renderGantt();
  renderLegend();
  renderPanel();
}

function setStatus(status, since) {
  const el = $("#conn");
  online = status === "live";
  if (!online && !lostSince) lostSince = (S && parseTime(S.time)) || since || new Date();
  if (online) lostSince = null;
  el.dataset.status = status === "dropped" ? "reconnecting" : status;
  el.textContent = t(status === "live" ? "live" : status === "connecting" ? "connecting" : "reconnecting");
  document.body.classList.toggle("offline", !online);
  if (S) renderBanner();
}

function onSnapshot(s) {
  S = s;
  const tm = Date.parse(s.time);
  for (const g of s.grinders) pushTrend(g, tm);
  renderAll();
}

let ganttDue = false;
function onDelta(s, d, changed) {
  S = s;
  const tm = Date.parse(d.time);
  for (const f of d.grinders || []) {
    const g = s.grinders.find((x) => x.id === f.id);
    if (g && ("spindle_load_pct" in f || "coolant_c" in f)) pushTrend(g, tm);
  }
  for (const id of changed) renderTile(s.grinders.find((x) => x.id === id));
  if (d.robots) renderRobots();
  if (d.inspection || d.magazine || d.output) renderStations();
  renderHeader();
  if (d.grinders || d.inspection) renderBanner();
  if (selected && (changed.has(selected))) renderPanel();
  if (!ganttDue) { ganttDue = true; setTimeout(() => { ganttDue = false; renderGantt(); }, 1000); }
}

setLang(getLang());
$("#lang").addEventListener("click", () => { setLang(getLang() === "zh" ? "en" : "zh"); renderAll(); setStatus(online ? "live" : "reconnecting", lostSince); });
$("#panel-close").addEventListener("click", closePanel);
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanel(); });
window.addEventListener("resize", () => S && renderGantt());
setStatus("connecting", null);
const params = new URLSearchParams(location.search);
const q = ["batch", "grinders"].filter((k) => params.get(k)).map((k) => `${k}=${encodeURIComponent(params.get(k))}`).join("&");
connect(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/twin${q ? "?" + q : ""}`, {
  snapshot: onSnapshot, delta: onDelta, status: setStatus,
});
