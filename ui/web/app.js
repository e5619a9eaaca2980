// Pilotline digital twin: floor plan, header KPIs, alarms, timeline and the
// grinder panel, all fed by the /ws/twin stream. Built from DOM nodes with
// textContent only: ids, serials and alarm texts are never parsed as markup.
import { connect } from "./stream.js";
import { t, stateLabel, label, name, parseTime, isoDateTime, isoTime, pct, getLang, setLang, other, applyLabels } from "./lib/i18n.js";
import { el, svg, $, $$ } from "./lib/dom.js";
import { api, keepCSRF, signOut, signInURL } from "./lib/api.js";

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
// Each state's icon on a 24 × 24 grid: [tag, attributes] pairs.
const ICON = {
  grinding: [["path", { d: "M8 4 L21 12 L8 20 Z" }]],
  measuring: [["path", { d: "M3 9 H21 V15 H3 Z M7 9 V12 M11 9 V13 M15 9 V12 M19 9 V13", fill: "none", "stroke-width": 2 }]],
  idle: [["rect", { x: 6, y: 5, width: 4, height: 14 }], ["rect", { x: 14, y: 5, width: 4, height: 14 }]],
  loading: [["path", { d: "M12 20 L5 12 H9.5 V4 H14.5 V12 H19 Z" }]],
  unloading: [["path", { d: "M12 4 L19 12 H14.5 V20 H9.5 V12 H5 Z" }]],
  moving: [["path", { d: "M2 12 L8 6 V10 H16 V6 L22 12 L16 18 V14 H8 V18 Z" }]],
  dressing: [["path", { d: "M12 2 L22 12 L12 22 L2 12 Z" }]],
  tool_change: [["circle", { cx: 12, cy: 12, r: 9, fill: "none", "stroke-width": 3 }], ["circle", { cx: 12, cy: 12, r: 3 }]],
  alarm: [["path", { d: "M12 2 L23 21 H1 Z" }], ["path", { d: "M11 8 H13 V15 H11 Z M11 17 H13 V19 H11 Z", fill: "#1b1f24" }]],
  starved: [["circle", { cx: 12, cy: 12, r: 8.5, fill: "none", "stroke-width": 3 }]],
  blocked: [["rect", { x: 4, y: 4, width: 16, height: 16 }]],
  maintenance: [["path", { d: "M4 20 L13 11", "stroke-width": 4, fill: "none" }], ["circle", { cx: 16, cy: 8, r: 5.5, fill: "none", "stroke-width": 3 }]],
  comm_lost: [["path", { d: "M5 5 L19 19 M19 5 L5 19", "stroke-width": 4, fill: "none" }]],
  offline: [["path", { d: "M4 12 H20", "stroke-width": 4, fill: "none" }]],
};
const LEGEND = ["grinding", "idle", "loading", "unloading", "dressing", "tool_change", "alarm", "starved", "blocked", "maintenance", "comm_lost", "offline"];

const color = (s) => STATE_COLOR[s] || "#8A939C";

// ?kiosk=1 is the big screen read from across the shop floor: state text
// large, the alarm banner's space always reserved, nothing to click.
const params = new URLSearchParams(location.search);
const KIOSK = params.get("kiosk") === "1";
// Where a tile's state text fits, in SVG units.
const ST = KIOSK ? { x: 12, y: 114, w: TILE_W - 20 } : { x: 88, y: 72, w: TILE_W - 96 };

let S = null; // current snapshot
let online = false;
let lostSince = null;
let selected = null;
const trends = {}; // grinder id → {load: [{t,v}], coolant: [{t,v}]}
let ackError = ""; // the last acknowledgement the server refused
let lastTray = null;
const tiles = new Map(); // grinder id → tile parts

// icon is a state's icon as an SVG group at x, y, size units wide.
function icon(state, x, y, size) {
  const c = color(state);
  return svg("g", { transform: `translate(${x},${y}) scale(${size / 24})`, fill: c, stroke: c },
    (ICON[state] || ICON.offline).map(([tag, a]) => svg(tag, a)));
}

// iconSVG is a state's icon as a standalone SVG element of px pixels.
function iconSVG(state, px) {
  return svg("svg", { width: px, height: px, viewBox: "0 0 24 24", "aria-hidden": "true" }, icon(state, 0, 0, 24));
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
  const kids = [
    svg("title", { text: t("twin.floor") }),
    svg("defs", {}, svg("pattern", { id: "hatch", width: 12, height: 12, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      svg("rect", { width: 12, height: 12, fill: "#23272c" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 12, stroke: "#3b4149", "stroke-width": 6 }))),
  ];
  for (let r = 1; r <= rows; r++) {
    const g = S.grinders.find((x) => x.row === r);
    const grp = S.line.groups.find((x) => x.id === g?.group);
    kids.push(svg("text", { class: "grouplabel", x: 8, y: rowY(r) + 22, text: name(grp) || g?.group || "" }));
    kids.push(svg("text", { class: "grouplabel code", x: 8, y: rowY(r) + 42, text: g?.group || "" }));
    const rob = S.robots.find((x) => x.row === r);
    const x1 = rob?.serves.includes(S.magazine.id) ? 60 : X0 + 20;
    kids.push(svg("line", { class: "rail", x1, y1: railY(r), x2: colX(5) + TILE_W - 20, y2: railY(r) }));
  }
  tiles.clear();
  for (const g of S.grinders) kids.push(buildTile(g));
  // Magazine beside row 1, inspection and tray below the last row.
  kids.push(svg("g", { class: "station", id: "st-mag", transform: `translate(8,${rowY(1) + 52})` }));
  kids.push(svg("g", { class: "station", id: "st-qc", transform: `translate(${colX(3)},${rowY(rows + 1)})` }));
  kids.push(svg("g", { class: "station", id: "st-out", transform: `translate(${colX(4)},${rowY(rows + 1)})` }));
  for (const r of S.robots) {
    kids.push(svg("g", { class: "robot", dataset: { id: r.id } },
      svg("rect", { x: -26, y: -17, width: 52, height: 34, rx: 8 }),
      svg("text", { x: 0, y: 6, "text-anchor": "middle", text: r.id }),
      svg("circle", { class: "bur", cx: 22, cy: -15, r: 7, visibility: "hidden" })));
  }
  $("#floor").replaceChildren(...kids);
  for (const g of S.grinders) renderTile(g);
  renderRobots();
  renderStations();
}

// buildTile makes a grinder's tile once; renderTile updates its parts.
function buildTile(g) {
  const p = {
    bg: svg("rect", { class: "bg", width: TILE_W, height: TILE_H, rx: 12 }),
    hatch: svg("rect", { width: TILE_W, height: TILE_H, rx: 12, fill: "url(#hatch)", "stroke-width": 3 }),
    ring: svg("circle", { class: "ring", cx: 44, cy: 52, r: RING_R, "stroke-dasharray": RING_C, transform: "rotate(-90 44 52)" }),
    icon: svg("g"),
    st: svg("text", { class: "st", x: ST.x, y: ST.y }),
    alarm: svg("g", { transform: `translate(${TILE_W - 34},10)` }, icon("alarm", 0, 0, 24)),
    line1: svg("text", { x: 12, y: 102 }),
    meta: svg("text", { class: "meta", x: 12, y: 121 }),
  };
  p.root = svg("g", { class: "tile", dataset: { id: g.id }, transform: `translate(${colX(g.col)},${rowY(g.row)})`,
    tabindex: 0, role: "button", on: { click: () => openPanel(g.id), keydown: (e) => { if (e.key === "Enter") openPanel(g.id); } } },
  p.bg, p.hatch, svg("circle", { class: "ring-bg", cx: 44, cy: 52, r: RING_R }), p.ring, p.icon,
  svg("text", { class: "id", x: 88, y: 44, text: g.id }), p.st, p.alarm, p.line1, p.meta);
  tiles.set(g.id, p);
  return p.root;
}

function renderTile(g) {
  const p = g && tiles.get(g.id);
  if (!p) return;
  const lost = g.comm === "lost" || g.comm === "stale" || g.state === "comm_lost";
  const c = color(g.state);
  const prog = g.state === "grinding" ? g.progress : g.state === "unloading" ? 1 : 0;
  p.bg.setAttribute("stroke", c);
  p.bg.setAttribute("stroke-width", g.state === "alarm" ? 6 : 3);
  p.hatch.setAttribute("stroke", c);
  p.hatch.setAttribute("visibility", lost ? "visible" : "hidden");
  p.ring.setAttribute("stroke", c);
  p.ring.setAttribute("stroke-dashoffset", RING_C * (1 - prog));
  if (p.icon.dataset.state !== g.state) {
    p.icon.replaceChildren(icon(g.state, 30, 38, 28));
    p.icon.dataset.state = g.state;
  }
  p.st.setAttribute("fill", lost ? "#c9d1d9" : c);
  const st = stateLabel(g.state) + (g.state === "grinding" ? ` ${Math.round(g.progress * 100)}%` : "");
  if (p.st.textContent !== st) {
    p.st.textContent = st;
    // A long label in a large font is narrowed to the tile rather than run over it.
    p.st.removeAttribute("textLength");
    if (p.st.getComputedTextLength() > ST.w) {
      p.st.setAttribute("textLength", ST.w);
      p.st.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
  }
  p.alarm.setAttribute("visibility", (g.alarms || []).length ? "visible" : "hidden");
  if (lost) {
    const since = parseTime(g.last_data);
    p.line1.setAttribute("class", "nodata");
    p.line1.textContent = since ? t("twin.noDataSince", { t: isoTime(since) }) : t("twin.noData");
  } else {
    p.line1.setAttribute("class", "serial");
    p.line1.textContent = g.serial || "—";
  }
  const oee = g.oee ? ` · OEE ${Math.round(g.oee.oee * 100)}%` : "";
  p.meta.textContent = `${t(`twin.periodShort.${periodKind()}`)} ${g.today}${oee}`;
  p.root.dataset.state = g.state;
  p.root.dataset.comm = g.comm;
  p.root.classList.toggle("lost", lost);
  p.root.classList.toggle("sel", selected === g.id);
}

function renderRobots() {
  for (const r of S.robots) {
    const e = $$(".robot").find((x) => x.dataset.id === r.id);
    if (!e) continue;
    const where = r.state === "moving" || r.state === "loading" ? r.target || r.at : r.at || r.target;
    e.style.transform = `translate(${placeX(where)}px,${railY(r.row)}px)`;
    e.querySelector(".bur").setAttribute("visibility", r.bur ? "visible" : "hidden");
    e.dataset.state = r.state;
    e.dataset.at = where || "";
  }
}

function renderStations() {
  const m = S.magazine;
  const mfill = m.capacity ? m.count / m.capacity : 0;
  $("#st-mag").replaceChildren(
    svg("rect", { class: "bg", width: 140, height: 92, rx: 10 }),
    svg("text", { class: "title", x: 10, y: 24, text: t("twin.magazine") }),
    svg("text", { class: "val", x: 10, y: 60, text: m.count }),
    svg("text", { class: "meta", x: 10, y: 80, text: `${t("twin.blanks")} / ${m.capacity}` }),
    svg("rect", { x: 118, y: 32, width: 12, height: 50, fill: "#38414c" }),
    svg("rect", { x: 118, y: 32 + 50 * (1 - mfill), width: 12, height: 50 * mfill, fill: "#56B4E9" }));
  const q = S.inspection;
  const last = q.last;
  const qc = color(q.state);
  $("#st-qc").replaceChildren(
    svg("rect", { class: "bg", width: TILE_W, height: 104, rx: 10, stroke: qc, "stroke-width": 3 }),
    icon(q.state, 12, 12, 24),
    svg("text", { class: "title", x: 44, y: 32, text: `${q.id} ${t("twin.inspection")}` }),
    svg("text", { class: "meta", x: 12, y: 58, text: `${stateLabel(q.state)} · ${t("twin.pass")} ${q.passed} · ${t("twin.fail")} ${q.failed}` }),
    last ? svg("text", { class: "serial", x: 12, y: 80, text: last.serial }) : null,
    last ? svg("text", { class: "result", x: 12, y: 98, fill: last.pass ? "#009E73" : "#D55E00",
      text: last.pass ? `✔ ${t("twin.pass")}` : `✘ ${t("twin.fail")} ${(last.failed || []).join(", ")}` }) : null);
  const o = S.output;
  const n = Number(o.count);
  const shown = n % 24 === 0 && n > 0 ? 24 : n % 24;
  const slots = [];
  for (let i = 0; i < 24; i++) {
    const cx = 236 + (i % 8) * 22, cy = 24 + Math.floor(i / 8) * 22;
    const isNew = i === shown - 1 && lastTray !== null && n > lastTray;
    slots.push(i < shown ? svg("circle", { class: "tray-bur" + (isNew ? " new" : ""), cx, cy, r: 6 }) : svg("circle", { cx, cy, r: 6, fill: "#38414c" }));
  }
  lastTray = n;
  const ls = o.last_serials || [];
  $("#st-out").replaceChildren(
    svg("rect", { class: "bg", width: COL_PITCH + TILE_W, height: 104, rx: 10 }),
    svg("text", { class: "title", x: 12, y: 28, text: t("twin.output") }),
    svg("text", { class: "val", x: 12, y: 66, id: "tray-count", text: n }),
    svg("text", { class: "meta", x: 12, y: 88, text: t("twin.inspected") }),
    [0, 1, 2].map((i) => svg("text", { class: "serial", x: 120, y: 62 + 18 * i, text: ls[i] || "" })),
    svg("g", {}, slots));
}

// ---------- header ----------

// periodKind is "shift" or "day": what the counts and OEE figures count.
const periodKind = () => (S.production.period?.kind === "shift" ? "shift" : "day");

// periodText names the period and when it began: "shift A since 06:00".
function periodText() {
  const p = S.production.period || {};
  const from = parseTime(p.from);
  const now = parseTime(S.time);
  let f = "—";
  if (from) f = isoTime(from).slice(0, 5);
  if (from && now && isoDateTime(from).slice(0, 10) !== isoDateTime(now).slice(0, 10)) f = `${isoDateTime(from).slice(5, 10)} ${f}`;
  return t(`twin.period.${periodKind()}`, { name: p.name || "", from: f });
}

function renderHeader() {
  const p = S.production;
  $("#line-name").textContent = name(S.line) || "Pilotline";
  const tk = p.takt || {};
  const actual = tk.rolling_s || tk.last_s;
  // No demand: there is no target to be behind; overdue: no time is left.
  const noTarget = tk.source === "no_demand" || tk.source === "overdue";
  const target = noTarget ? 0 : Math.round(tk.target_s || S.line.takt_s);
  const shown = noTarget ? t(tk.source === "overdue" ? "twin.overdue" : "twin.noDemand") : `${target}`;
  $("#takt-actual").textContent = actual ? `${shown} / ${actual.toFixed(0)}` : `${shown} / —`;
  const behind = !noTarget && actual && actual > target * 1.02;
  $("#kpi-takt .bar").classList.toggle("behind", !!behind || tk.source === "overdue");
  $("#takt-bar").style.width = actual && target ? `${Math.min(100, (actual / (2 * target)) * 100)}%` : "0";
  $("#takt-target-mark").style.left = "50%";
  const source = tk.source === "demand" || tk.source === "config" ? ` (${t("twin.taktSource." + tk.source)})` : "";
  const pace = noTarget ? "● " + shown : behind ? "▲ " + t("twin.behind") : "● " + t("twin.onPace");
  $("#takt-note").textContent = actual
    ? `${pace}${source} · ${t("twin.last")} ${tk.last_s ? tk.last_s.toFixed(0) : "—"} s · ${t("twin.rolling")} ${tk.rolling_s ? tk.rolling_s.toFixed(0) : "—"} s`
    : noTarget ? shown : `${t("twin.target")} ${target} s${source}`;
  $("#burs-title").textContent = t(`twin.output.${periodKind()}`);
  $("#burs-today").textContent = p.burs_today ?? 0;
  $("#burs-period").textContent = periodText();
  $("#oee-period").textContent = t("twin.oeeWindow", { period: periodText() });
  $("#burs-note").textContent = p.good_today ? `${t("twin.pass")} ${p.good_today}` : `${t("twin.output")} ${S.output.count}`;
  const o = p.oee;
  $("#oee").textContent = o ? pct(o.oee) : "—";
  $("#oee-factors").replaceChildren(...[["twin.availability", o?.availability], ["twin.performance", o?.performance], ["twin.quality", o?.quality]].flatMap(([k, v]) => {
    const fillBar = el("div");
    fillBar.style.width = `${v == null ? 0 : Math.min(100, v * 100)}%`;
    return [el("span", { text: t(k) }), el("div", { class: "mini" }, fillBar), el("span", { text: pct(v) })];
  }));
  $("#energy").textContent = p.energy_per_bur_kwh ? p.energy_per_bur_kwh.toFixed(2) : "—";
  $("#carbon").textContent = p.carbon_per_bur_kg ? t("twin.carbon", { v: p.carbon_per_bur_kg.toFixed(3) }) : "";
  const batches = (p.batches || []).slice(0, 3).map((b) => {
    const done = b.quantity ? b.completed / b.quantity : 0;
    const prod = getLang() === "zh" && b.product_name_zh ? b.product_name_zh : b.product_name || b.product;
    const fillBar = el("div");
    fillBar.style.width = `${Math.min(100, done * 100)}%`;
    return el("div", { class: "batch", dataset: { id: b.id } },
      el("span", {}, el("b", { text: b.id }), ` ${prod}`), el("span", { text: `${b.completed} ${t("twin.of")} ${b.quantity}` }),
      el("div", { class: "bar" }, fillBar));
  });
  $("#batches").replaceChildren(...(batches.length ? batches : [el("div", { class: "note", text: "—" })]));
  const lt = parseTime(S.time);
  $("#clock").textContent = lt ? `${t("twin.lineTime")} ${isoDateTime(lt)}` : "";
}

// ---------- alarms ----------

function activeAlarms() {
  const out = [];
  const of = (m, alarms, acks) => {
    for (const a of alarms || []) out.push({ m, a, ack: (acks || []).find((k) => k.seq === a.seq) });
  };
  for (const g of S.grinders) of(g.id, g.alarms, g.acks);
  of(S.inspection.id, S.inspection.alarms, S.inspection.acks);
  return out.sort((x, y) => Date.parse(y.a.raised) - Date.parse(x.a.raised));
}

const alarmText = (a) => (getLang() === "zh" && a.text_zh ? a.text_zh : a.text);

// canAck: staff who are signed in acknowledge alarms; an andon view only shows them.
const canAck = () => !KIOSK && viewer && ["admin", "engineer", "qa"].includes(viewer.role);

// ackedBy says who acknowledged an alarm and when, for every viewer.
const ackedBy = (k) => t("twin.ackedBy", { name: k.name || k.by, t: isoTime(parseTime(k.at)) });

async function acknowledge(m, seq) {
  ackError = "";
  try {
    await api("POST", "/alarms/ack", { machine: m, seq });
  } catch (e) {
    ackError = t("twin.ackFailed", { m: e.message });
  }
  renderBanner(); // the acknowledgement itself arrives with the stream, for every viewer alike
}

// kioskPanel keeps the kiosk's panel below the banner, never over it.
function kioskPanel() {
  if (KIOSK) document.body.style.setProperty("--kiosk-top", `${Math.ceil($("#banner").getBoundingClientRect().bottom)}px`);
}

function renderBanner() {
  const b = $("#banner");
  if (!online) {
    b.hidden = false;
    b.className = "banner offline";
    b.replaceChildren(el("div", { class: "alarm", text: `⚠ ${t("twin.serverLost", { t: isoDateTime(lostSince) })}` }));
    kioskPanel();
    return;
  }
  const all = activeAlarms();
  const open = all.filter((x) => !x.ack);
  if (!all.length) {
    // The kiosk keeps the banner's space, so nothing moves when alarms come and go.
    b.hidden = !KIOSK;
    b.className = "banner quiet";
    b.replaceChildren(KIOSK ? el("div", { class: "alarm", text: t("twin.noAlarmsActive") }) : "");
    kioskPanel();
    return;
  }
  b.hidden = false;
  b.className = "banner";
  const row = (x) => el("div", { class: "alarm" + (x.ack ? " is-acked" : ""), dataset: { machine: x.m, seq: x.a.seq } },
    iconSVG("alarm", 22), el("b", { text: x.m }), el("span", { text: `${x.a.code} ${alarmText(x.a)}` }),
    el("span", { class: "acked", text: isoDateTime(parseTime(x.a.raised)) }),
    x.ack ? el("span", { class: "ack-by", text: ackedBy(x.ack) })
      : canAck() ? el("button", { type: "button", class: "ack", text: t("twin.ack"), on: { click: () => acknowledge(x.m, x.a.seq) } })
        : el("span", { class: "ack-by", text: t("twin.unacked") }));
  const rows = open.slice(0, 3).map(row);
  if (open.length > 3) rows.push(el("div", { class: "acked", text: `+${open.length - 3}` }));
  const acked = all.filter((x) => x.ack);
  if (rows.length < 3) rows.push(...acked.slice(0, 3 - rows.length).map(row));
  else if (acked.length) rows.push(el("div", { class: "acked", text: t("twin.acked", { n: acked.length }) }));
  if (ackError) rows.push(el("div", { class: "ack-error", role: "alert", text: ackError }));
  b.replaceChildren(...rows);
  kioskPanel();
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
  $("#legend").replaceChildren(...LEGEND.map((s) => el("div", { class: "item" }, iconSVG(s, 26), el("span", { text: stateLabel(s) }))));
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
  for (const [gid, p] of tiles) p.root.classList.toggle("sel", gid === id);
  renderPanel();
}

function closePanel() {
  selected = null;
  $("#panel").hidden = true;
  for (const p of tiles.values()) p.root.classList.remove("sel");
}

function renderPanel() {
  if (!selected || !S) return;
  const g = S.grinders.find((x) => x.id === selected);
  if (!g) return;
  const grp = S.line.groups.find((x) => x.id === g.group);
  const dd = (k, ...v) => [el("dt", { text: t(k) }), el("dd", {}, ...v)];
  const commKey = { ok: "twin.commOK", lost: "twin.commLost", stale: "twin.commStale", never: "twin.commNever" }[g.comm] || "twin.commNever";
  const lastData = parseTime(g.last_data);
  const stateName = el("span", { text: stateLabel(g.state) });
  stateName.style.color = color(g.state);
  $("#panel-head").replaceChildren(
    el("div", { class: "ident", text: g.id }),
    el("div", { class: "state" }, iconSVG(g.state, 26), stateName,
      el("span", { class: "since", text: t("twin.stateSince", { t: isoDateTime(parseTime(g.since)) }) })),
    el("dl", {},
      dd("twin.group", `${name(grp)} (${g.group})`), dd("twin.model", g.model), dd("twin.position", t("twin.rowCol", { r: g.row, c: g.col })),
      dd("twin.mode", g.mode ? label("mode.", g.mode) : "—"), dd("twin.program", `${g.program || "—"} ${g.program_version ? "v" + g.program_version : ""}`),
      dd("twin.serial", el("b", { text: g.serial || "—" })),
      dd("twin.spindle", `${g.spindle_rpm.toFixed(0)} ${t("twin.rpm")} · ${g.spindle_load_pct.toFixed(1)} %`),
      dd("twin.wheel", `${g.wheel_id || "—"} · ⌀ ${g.wheel_diameter_mm.toFixed(3)} mm · ${t("twin.wear")} ${g.wheel_wear_um.toFixed(1)} µm · ${t("twin.dress")} ${g.dress_count}`),
      dd("twin.counter", `${g.counter} · ${t(`twin.periodShort.${periodKind()}`)} ${g.today}`),
      dd("twin.oee", g.oee ? `${pct(g.oee.oee)} (${t("twin.availability")} ${pct(g.oee.availability)} · ${t("twin.performance")} ${pct(g.oee.performance)} · ${t("twin.quality")} ${pct(g.oee.quality)}) · ${periodText()}` : "—"),
      dd("twin.comm", t(commKey) + (g.comm !== "ok" && lastData ? " · " + t("twin.noDataSince", { t: isoDateTime(lastData) }) : ""))));
  const tr = trends[g.id] || { load: [], coolant: [] };
  drawLine($("#chart-load"), tr.load, "#56B4E9", "%");
  drawLine($("#chart-coolant"), tr.coolant, "#E69F00", "°C");
  drawBars($("#chart-cycles"), (g.cycles || []).map((c) => ({ v: c.cycle_s, bad: c.aborted })));
  const hist = g.alarm_history || [];
  $("#panel-alarms").replaceChildren(el("h3", { text: t("twin.alarms") }), el("div", { class: "alist" },
    hist.length ? hist.map((a) => {
      const cl = parseTime(a.cleared);
      const ack = (g.acks || []).find((k) => k.seq === a.seq);
      return el("div", { class: cl ? "" : "active" }, `${isoDateTime(parseTime(a.raised))} · `, el("b", { text: a.code }),
        ` ${alarmText(a)} · ${cl ? t("twin.cleared") + " " + isoTime(cl) : t("twin.active")}${ack ? " · " + ackedBy(ack) : ""}`);
    }) : t("twin.noAlarms")));
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
  applyLabels();
  $("#lang").textContent = t("toggle");
  $("#panel-close").setAttribute("aria-label", t("twin.close"));
  renderWho();
  if (!S) return;
  buildFloor();
  renderHeader();
  renderBanner();
  renderGantt();
  renderLegend();
  renderPanel();
}

function setStatus(status, since) {
  const c = $("#conn");
  online = status === "live";
  if (!online && !lostSince) lostSince = (S && parseTime(S.time)) || since || new Date();
  if (online) lostSince = null;
  c.dataset.status = status === "dropped" ? "reconnecting" : status;
  c.textContent = t(status === "live" ? "twin.live" : status === "connecting" ? "twin.connecting" : "twin.reconnecting");
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
  if (selected && changed.has(selected)) renderPanel();
  if (!ganttDue) { ganttDue = true; setTimeout(() => { ganttDue = false; renderGantt(); }, 1000); }
}

// The signed-in user (null for an anonymous andon view, undefined until known).
let viewer;

// showWho asks who is signed in; renderWho names them and offers sign-out,
// or offers sign-in to an anonymous view.
async function showWho() {
  if (KIOSK) return;
  try {
    const info = await api("GET", "/me", undefined, { stay: true });
    keepCSRF(info.csrf_token);
    viewer = info.user;
  } catch (_) {
    viewer = null;
  }
  renderWho();
  if (S) renderBanner(); // the acknowledge buttons depend on who is looking
}

function renderWho() {
  if (viewer === undefined) return;
  $("#who").textContent = viewer ? `${viewer.name || viewer.id} (${viewer.id})` : t("twin.anonymous");
  $("#logout").hidden = !viewer;
  $("#signin").hidden = !!viewer;
  $("#signin").href = signInURL();
}

document.body.classList.toggle("kiosk", KIOSK);
setLang(getLang());
renderAll();
showWho();
$("#logout").addEventListener("click", signOut);
$("#lang").addEventListener("click", () => { setLang(other()); renderAll(); setStatus(online ? "live" : "reconnecting", lostSince); });
$("#panel-close").addEventListener("click", closePanel);
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanel(); });
window.addEventListener("resize", () => { kioskPanel(); if (S) renderGantt(); });
setStatus("connecting", null);
const q = ["batch", "grinders"].filter((k) => params.get(k)).map((k) => `${k}=${encodeURIComponent(params.get(k))}`).join("&");
connect(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/twin${q ? "?" + q : ""}`, {
  snapshot: onSnapshot, delta: onDelta, status: setStatus,
});
