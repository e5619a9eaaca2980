// Booking portal: the line's calendar, the booking form with its quote,
// "my runs" with live progress, and the engineer's queue. Plain module, no
// build step; every string from the shared dictionary.
import { t, getLang, setLang, other, label, charName, name, applyLabels } from "../lib/i18n.js";
import { api, me as whoami, signOut } from "../lib/api.js";
import { el } from "../lib/dom.js";

// The characteristics a customer may ask QA to measure.
const CHARACTERISTICS = ["head_diameter", "working_length", "overall_length", "shank_diameter", "radial_runout"];

let me = null;
let view = "calendar";
let calFrom = startOfWeek(new Date());
let lastQuote = null;

// ISO 8601, UTC, minutes.
function iso(s) { return s ? new Date(s).toISOString().slice(0, 16).replace("T", " ") + "Z" : "—"; }
function hours(s) { return (s / 3600).toFixed(1) + " h"; }
function startOfWeek(d) {
  const x = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  x.setUTCDate(x.getUTCDate() - ((x.getUTCDay() + 6) % 7));
  return x;
}

function render() {
  document.title = "Pilotline · " + t("portal.title");
  applyLabels();
  document.querySelector("#lang").textContent = t("toggle");
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", b.dataset.view === view);
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + view;
  renderChars();
  if (lastQuote) showQuote(lastQuote);
  refresh();
}

function renderChars() {
  const fs = document.querySelector("#f-chars");
  const checked = new Set([...fs.querySelectorAll("input:checked")].map((i) => i.value));
  fs.querySelectorAll("label").forEach((l) => l.remove());
  for (const k of CHARACTERISTICS) {
    const box = el("input", { type: "checkbox", value: k, checked: checked.has(k) || k === "head_diameter" });
    fs.append(el("label", {}, box, charName(k)));
  }
}

async function refresh() {
  try {
    if (view === "calendar") await loadCalendar();
    if (view === "runs") await loadRuns();
    if (view === "queue") await loadQueue();
  } catch (e) { console.warn(e); }
}

// Calendar: one row per day, blocks placed on a 24 h track.
async function loadCalendar() {
  const mode = document.querySelector("#cal-mode").value;
  const days = mode === "month" ? 35 : 7;
  const to = new Date(calFrom.getTime() + days * 86400e3);
  document.querySelector("#cal-range").textContent = calFrom.toISOString().slice(0, 10) + " … " + new Date(to - 1).toISOString().slice(0, 10);
  const cal = await api("GET", `/calendar?from=${calFrom.toISOString()}&to=${to.toISOString()}`);
  const root = document.querySelector("#calendar");
  root.replaceChildren();
  const scale = el("div", { class: "hours" }, el("span"));
  for (let h = 0; h < 24; h++) scale.append(el("span", {}, h % 3 === 0 ? String(h).padStart(2, "0") : ""));
  root.append(scale);
  for (let d = 0; d < days; d++) {
    const day0 = calFrom.getTime() + d * 86400e3;
    const track = el("div", { class: "track" });
    const staffBlocks = cal.reservations
      ? cal.reservations.map((r) => ({ start: Date.parse(r.start) - r.setup_before_s * 1e3, end: Date.parse(r.end) + r.setup_after_s * 1e3,
          cls: r.kind === "maintenance" ? "maint" : "busy", label: r.kind === "maintenance" ? r.title : `${r.booking} ${r.org} · ${r.groups.join(",")}` }))
      : cal.busy.map((b) => ({ start: Date.parse(b.start), end: Date.parse(b.end), cls: b.own ? "own" : "busy", label: b.groups.join(",") }));
    for (const b of staffBlocks) {
      const s = Math.max(b.start, day0), e = Math.min(b.end, day0 + 86400e3);
      if (e <= s) continue;
      const blk = el("div", { class: "blk " + b.cls, title: `${iso(b.start)} – ${iso(b.end)} ${b.label}` }, b.label);
      blk.style.left = ((s - day0) / 864e3).toFixed(3) + "%";
      blk.style.width = ((e - s) / 864e3).toFixed(3) + "%";
      track.append(blk);
    }
    root.append(el("div", { class: "day" }, el("span", { class: "date" }, new Date(day0).toISOString().slice(0, 10)), track));
  }
}

function fillQuote(dl, q) {
  dl.replaceChildren();
  const row = (k, v) => dl.append(el("dt", {}, t("portal." + k)), el("dd", {}, v));
  row("basis", t("portal." + q.basis) + (q.basis === "measured" ? ` (${q.departures} ${t("burs")})` : ""));
  row("window", `${iso(q.start)} – ${iso(q.end)}`);
  row("lineTime", hours(q.line_time_s));
  row("setup", hours(q.setup_s));
  row("interval", q.interval_s.toFixed(1) + " s");
  row("oee", (q.oee * 100).toFixed(1) + " %");
  row("groupsUsed", q.groups.join(", "));
  row("expires", iso(q.expires));
}

function showQuote(b) {
  lastQuote = b;
  const box = document.querySelector("#quote");
  box.hidden = false;
  box.dataset.id = b.id;
  const msg = document.querySelector("#quote-msg");
  const accept = document.querySelector("#quote-accept");
  if (b.quote) fillQuote(document.querySelector("#quote-body"), b.quote);
  else document.querySelector("#quote-body").replaceChildren();
  accept.hidden = b.state !== "quoted";
  msg.textContent = b.state === "accepted" ? t("portal.accepted") : b.quote_error ? t("portal.quoteError", { m: b.quote_error }) : `${b.id} · ${label("booking.", b.state)}`;
}

async function submitBooking(ev) {
  ev.preventDefault();
  const err = document.querySelector("#form-error");
  err.hidden = true;
  const start = document.querySelector("#f-start").value.trim();
  const deadline = document.querySelector("#f-deadline").value.trim();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || !/^\d{4}-\d{2}-\d{2}$/.test(deadline)) {
    err.textContent = t("portal.required"); err.hidden = false; return;
  }
  const end = new Date(Date.parse(deadline + "T00:00:00Z") + 86400e3).toISOString().replace(".000", "");
  const sampling = document.querySelector("#f-sampling").value;
  const body = {
    product: document.querySelector("#f-product").value,
    quantity: Number(document.querySelector("#f-quantity").value),
    qa: { characteristics: [...document.querySelectorAll("#f-chars input:checked")].map((i) => i.value),
      sampling: sampling === "all" ? { mode: "all" } : { mode: "per_lot", n: Number(document.querySelector("#f-n").value), lot: Number(document.querySelector("#f-lot").value) } },
    earliest_start: start + "T00:00:00Z", deadline: end, notes: document.querySelector("#f-notes").value,
  };
  if (me.role !== "customer") body.org = document.querySelector("#f-org").value.trim();
  const button = document.querySelector("#f-submit");
  button.disabled = true;
  try {
    showQuote(await api("POST", "/bookings", body));
  } catch (e) {
    err.textContent = t("failed", { m: e.message }); err.hidden = false;
  } finally { button.disabled = false; }
}

async function acceptQuote() {
  const id = document.querySelector("#quote").dataset.id;
  try { showQuote(await api("POST", `/bookings/${id}/accept`, { reason: "" })); }
  catch (e) { document.querySelector("#quote-msg").textContent = t("failed", { m: e.message }); }
}

function runRow(b, actions) {
  const row = el("div", { class: "row run", "data-id": b.id, "data-state": b.state });
  const q = b.quote;
  row.append(el("div", {}, el("b", {}, b.id), " ", el("span", { class: "state" }, label("booking.", b.state)), " ",
    `${b.quantity} ${t("burs")} · ${b.product}`, me.role !== "customer" ? ` · ${b.org} · ${b.requested_by}` : ""));
  row.append(el("div", { class: "meta" }, q ? `${iso(q.start)} – ${iso(q.end)}` : ""));
  if (b.run) {
    const bar = el("div", { class: "bar" }, el("div"));
    bar.firstChild.style.width = b.run.percent.toFixed(1) + "%";
    row.append(el("div", { class: "meta" }, `${t("portal.progress")}: ${b.run.completed} / ${b.run.quantity} (${b.run.percent.toFixed(0)} %) · ${b.batch} · ${b.run.batch_state}`));
    row.append(b.run.trace_url ? el("a", { href: b.run.trace_url, class: "trace" }, t("portal.trace")) : el("span"));
    row.append(bar);
  }
  if (b.cancel_until) row.append(el("div", { class: "meta" }, `${t("portal.cancelUntil")} ${iso(b.cancel_until)}`));
  if (actions) row.append(actions);
  return row;
}

function actionBox(b, buttons) {
  const box = el("div", { class: "actions" });
  const reason = el("input", { class: "reason", placeholder: t("portal.reason") });
  box.append(reason);
  for (const [action, cls] of buttons) {
    const btn = el("button", { class: cls + " " + action, "data-action": action }, t("portal." + (action === "quote" ? "requote" : action)));
    btn.addEventListener("click", async () => {
      try { await api("POST", `/bookings/${b.id}/${action}`, { reason: reason.value }); refresh(); }
      catch (e) { reason.value = ""; reason.placeholder = t("failed", { m: e.message }); }
    });
    box.append(btn);
  }
  return box;
}

async function loadRuns() {
  const list = await api("GET", "/bookings");
  const root = document.querySelector("#runs");
  root.replaceChildren();
  if (!list.bookings.length) root.append(el("div", { class: "note" }, t("portal.noRuns")));
  for (const b of list.bookings) {
    const buttons = [];
    if (b.state === "quoted") buttons.push(["accept", "primary"]);
    if (["requested", "quoted", "accepted", "confirmed"].includes(b.state)) buttons.push(["cancel", "danger"]);
    root.append(runRow(b, buttons.length ? actionBox(b, buttons) : null));
  }
  const ns = await api("GET", "/notifications?limit=20");
  const ul = document.querySelector("#notifications");
  ul.replaceChildren();
  if (!ns.notifications.length) ul.append(el("li", {}, t("portal.noNotes")));
  for (const n of ns.notifications) ul.append(el("li", {}, `${iso(n.at)} · ${getLang() === "zh" ? n.message_zh : n.message}`));
}

async function loadQueue() {
  const list = await api("GET", "/bookings?state=requested,quoted,accepted,completed");
  const root = document.querySelector("#queue");
  root.replaceChildren();
  if (!list.bookings.length) root.append(el("div", { class: "note" }, t("portal.noQueue")));
  for (const b of list.bookings) {
    const buttons = {
      requested: [["quote", "primary"], ["decline", "danger"]], quoted: [["quote", "primary"], ["decline", "danger"]],
      accepted: [["confirm", "primary"], ["decline", "danger"]], completed: [["deliver", "primary"]],
    }[b.state];
    root.append(runRow(b, actionBox(b, buttons)));
  }
}

async function submitMaintenance() {
  const v = (id) => document.querySelector(id).value.trim();
  const norm = (s) => (s.endsWith("Z") && s.length === 17 ? s.slice(0, -1) + ":00Z" : s);
  try {
    await api("POST", "/calendar/maintenance", { groups: v("#m-groups") ? v("#m-groups").split(",").map((g) => g.trim()) : [],
      start: norm(v("#m-start")), end: norm(v("#m-end")), title: v("#m-title") });
    loadCalendar();
  } catch (e) { alert(t("failed", { m: e.message })); }
}

async function init() {
  const info = await whoami();
  me = info.user;
  document.querySelector("#who").textContent = `${me.name || me.id}${me.org ? " · " + me.org : ""}`;
  const staff = me.role !== "customer";
  document.querySelector("#tab-queue").hidden = !(me.role === "engineer" || me.role === "admin");
  document.querySelector("#maint").hidden = !(me.role === "engineer" || me.role === "admin");
  document.querySelector("#org-field").hidden = !staff;
  const products = await api("GET", "/products");
  const sel = document.querySelector("#f-product");
  for (const p of products.products || products) sel.append(el("option", { value: p.iso }, `${p.iso} · ${name(p)}`));
  const today = new Date();
  document.querySelector("#f-start").value = new Date(today.getTime() + 7 * 86400e3).toISOString().slice(0, 10);
  document.querySelector("#f-deadline").value = new Date(today.getTime() + 42 * 86400e3).toISOString().slice(0, 10);
  const hash = location.hash.slice(1);
  if (["calendar", "book", "runs", "queue"].includes(hash)) view = hash;
  render();
  setInterval(() => { if (view === "runs" || view === "queue") refresh(); }, 5000);
}

window.addEventListener("hashchange", () => {
  const v = location.hash.slice(1);
  if (me && v !== view && ["calendar", "book", "runs", "queue"].includes(v)) { view = v; render(); }
});
document.querySelector("#tabs").addEventListener("click", (ev) => {
  const v = ev.target.dataset && ev.target.dataset.view;
  if (v) { view = v; history.replaceState(null, "", "#" + v); render(); }
});
document.querySelector("#lang").addEventListener("click", () => {
  setLang(other()); render();
});
document.querySelector("#logout").addEventListener("click", signOut);
document.querySelector("#book-form").addEventListener("submit", submitBooking);
document.querySelector("#quote-accept").addEventListener("click", acceptQuote);
document.querySelector("#f-sampling").addEventListener("change", (e) => {
  for (const l of document.querySelectorAll(".lot")) l.hidden = e.target.value !== "per_lot";
});
document.querySelector("#cal-mode").addEventListener("change", () => loadCalendar());
document.querySelector("#cal-prev").addEventListener("click", () => { calFrom = new Date(calFrom.getTime() - (document.querySelector("#cal-mode").value === "month" ? 35 : 7) * 86400e3); loadCalendar(); });
document.querySelector("#cal-next").addEventListener("click", () => { calFrom = new Date(calFrom.getTime() + (document.querySelector("#cal-mode").value === "month" ? 35 : 7) * 86400e3); loadCalendar(); });
document.querySelector("#m-submit").addEventListener("click", submitMaintenance);
setLang(getLang());
init().catch((e) => console.warn(e));
