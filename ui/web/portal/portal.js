// Booking portal: the line's calendar, the booking form with its quote,
// "my runs" with live progress, and the engineer's queue. Plain module, no
// build step; every string in Simplified Chinese first, English second.

const text = {
  zh: {
    title: "试产预约", calendar: "产线日历", book: "预约试产", runs: "我的生产", queue: "待确认队列",
    twin: "数字孪生", logout: "退出", week: "周", month: "月", busy: "占用", own: "我的", maintenance: "维护", free: "空闲",
    newMaintenance: "新增维护窗口", groups: "工序组（空 = 整线）", start: "开始 (UTC)", end: "结束 (UTC)", titleField: "内容", block: "锁定窗口",
    org: "客户组织", product: "产品 (ISO 6360)", quantity: "数量 (支)", earliest: "最早开始 (UTC 日期)", deadline: "截止日期 (UTC, 当日结束)",
    sampling: "抽样", all: "100 % 全检", perLot: "每批抽检 n 支", n: "n (支/批)", lot: "批量 (支)", chars: "QA 检测特性",
    notes: "备注", request: "提交并报价", quote: "报价", accept: "接受报价", confirm: "确认", decline: "拒绝", cancel: "取消预约",
    reason: "原因", basis: "依据", measured: "近期实测节拍与 OEE", nominal: "标称值（无生产历史）", lineTime: "产线时间",
    interval: "每支良品节拍", setup: "换型准备", window: "生产窗口", expires: "报价有效至", oee: "OEE", groupsUsed: "占用工序组",
    state: "状态", progress: "进度", trace: "追溯记录下载", noRuns: "暂无预约", noQueue: "没有待处理的预约", cancelUntil: "可取消至",
    quoteError: "暂无自动报价：", accepted: "已接受报价，等待工程师确认。", failed: "操作失败：", required: "请填写所有必填项。",
    requestedBy: "申请人", requote: "重新报价", deliver: "已交付", toggle: "EN", burs: "支", noNotes: "暂无通知",
    states: { requested: "已申请", quoted: "已报价", accepted: "已接受", confirmed: "已确认", scheduled: "已排产", running: "生产中",
      completed: "已完成", delivered: "已交付", declined: "已拒绝", cancelled: "已取消", expired: "已过期" },
  },
  en: {
    title: "Pilot-run booking", calendar: "Line calendar", book: "Book a run", runs: "My runs", queue: "Engineer queue",
    twin: "Digital twin", logout: "Sign out", week: "Week", month: "Month", busy: "busy", own: "mine", maintenance: "maintenance", free: "free",
    newMaintenance: "New maintenance window", groups: "Groups (empty = whole line)", start: "Start (UTC)", end: "End (UTC)", titleField: "What", block: "Block window",
    org: "Customer organisation", product: "Product (ISO 6360)", quantity: "Quantity (burs)", earliest: "Earliest start (UTC date)", deadline: "Deadline (UTC date, end of day)",
    sampling: "Sampling", all: "100 % inspection", perLot: "n burs per lot", n: "n (burs per lot)", lot: "Lot size (burs)", chars: "QA characteristics",
    notes: "Notes", request: "Request and quote", quote: "Quote", accept: "Accept quote", confirm: "Confirm", decline: "Decline", cancel: "Cancel booking",
    reason: "Reason", basis: "Basis", measured: "measured takt and OEE of recent runs", nominal: "nominal values (no production history)", lineTime: "Line time",
    interval: "Time per good bur", setup: "Set-up", window: "Production window", expires: "Quote valid until", oee: "OEE", groupsUsed: "Groups reserved",
    state: "State", progress: "Progress", trace: "Download trace record", noRuns: "No bookings yet", noQueue: "Nothing waiting", cancelUntil: "Cancellable until",
    quoteError: "No automatic quote: ", accepted: "Quote accepted; waiting for the engineer's confirmation.", failed: "Failed: ", required: "Fill in every required field.",
    requestedBy: "Requested by", requote: "Quote again", deliver: "Delivered", toggle: "中文", burs: "burs", noNotes: "No notifications",
    states: { requested: "requested", quoted: "quoted", accepted: "accepted", confirmed: "confirmed", scheduled: "scheduled", running: "running",
      completed: "completed", delivered: "delivered", declined: "declined", cancelled: "cancelled", expired: "expired" },
  },
};
const charNames = {
  head_diameter: ["头部直径", "Head diameter"], working_length: ["工作长度", "Working length"], overall_length: ["总长", "Overall length"],
  shank_diameter: ["柄部直径", "Shank diameter"], radial_runout: ["径向跳动", "Radial runout"],
};

let lang = localStorage.getItem("pilotline.lang") || "zh";
let me = null;
let view = "calendar";
let calFrom = startOfWeek(new Date());
let lastQuote = null;
const t = (k) => text[lang][k];

// ISO 8601, UTC, minutes.
function iso(s) { return s ? new Date(s).toISOString().slice(0, 16).replace("T", " ") + "Z" : "—"; }
function hours(s) { return (s / 3600).toFixed(1) + " h"; }
function startOfWeek(d) {
  const x = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  x.setUTCDate(x.getUTCDate() - ((x.getUTCDay() + 6) % 7));
  return x;
}
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function csrf() {
  const m = document.cookie.match(/(?:^|; )pilotline_csrf=([^;]+)/);
  return sessionStorage.getItem("pilotline.csrf") || (m ? decodeURIComponent(m[1]) : "");
}
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const res = await fetch("/api/v1" + path, opts);
  if (res.status === 401) { location.href = "/login.html?next=" + encodeURIComponent(location.pathname); throw new Error("sign in"); }
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error(data && data.error ? data.error.message : res.statusText);
  return data;
}

function render() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = "Pilotline · " + t("title");
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
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
  for (const [k, names] of Object.entries(charNames)) {
    const box = el("input", { type: "checkbox", value: k, checked: checked.has(k) || k === "head_diameter" });
    fs.append(el("label", {}, box, names[lang === "zh" ? 0 : 1]));
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
  const row = (k, v) => dl.append(el("dt", {}, t(k)), el("dd", {}, v));
  row("basis", t(q.basis) + (q.basis === "measured" ? ` (${q.departures} ${t("burs")})` : ""));
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
  msg.textContent = b.state === "accepted" ? t("accepted") : b.quote_error ? t("quoteError") + b.quote_error : `${b.id} · ${text[lang].states[b.state]}`;
}

async function submitBooking(ev) {
  ev.preventDefault();
  const err = document.querySelector("#form-error");
  err.hidden = true;
  const start = document.querySelector("#f-start").value.trim();
  const deadline = document.querySelector("#f-deadline").value.trim();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || !/^\d{4}-\d{2}-\d{2}$/.test(deadline)) {
    err.textContent = t("required"); err.hidden = false; return;
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
    err.textContent = t("failed") + e.message; err.hidden = false;
  } finally { button.disabled = false; }
}

async function acceptQuote() {
  const id = document.querySelector("#quote").dataset.id;
  try { showQuote(await api("POST", `/bookings/${id}/accept`, { reason: "" })); }
  catch (e) { document.querySelector("#quote-msg").textContent = t("failed") + e.message; }
}

function runRow(b, actions) {
  const row = el("div", { class: "row run", "data-id": b.id, "data-state": b.state });
  const q = b.quote;
  row.append(el("div", {}, el("b", {}, b.id), " ", el("span", { class: "state" }, text[lang].states[b.state]), " ",
    `${b.quantity} ${t("burs")} · ${b.product}`, me.role !== "customer" ? ` · ${b.org} · ${b.requested_by}` : ""));
  row.append(el("div", { class: "meta" }, q ? `${iso(q.start)} – ${iso(q.end)}` : ""));
  if (b.run) {
    const bar = el("div", { class: "bar" }, el("div"));
    bar.firstChild.style.width = b.run.percent.toFixed(1) + "%";
    row.append(el("div", { class: "meta" }, `${t("progress")}: ${b.run.completed} / ${b.run.quantity} (${b.run.percent.toFixed(0)} %) · ${b.batch} · ${b.run.batch_state}`));
    row.append(b.run.trace_url ? el("a", { href: b.run.trace_url, class: "trace" }, t("trace")) : el("span"));
    row.append(bar);
  }
  if (b.cancel_until) row.append(el("div", { class: "meta" }, `${t("cancelUntil")} ${iso(b.cancel_until)}`));
  if (actions) row.append(actions);
  return row;
}

function actionBox(b, buttons) {
  const box = el("div", { class: "actions" });
  const reason = el("input", { class: "reason", placeholder: t("reason") });
  box.append(reason);
  for (const [action, cls] of buttons) {
    const btn = el("button", { class: cls + " " + action, "data-action": action }, t(action === "quote" ? "requote" : action));
    btn.addEventListener("click", async () => {
      try { await api("POST", `/bookings/${b.id}/${action}`, { reason: reason.value }); refresh(); }
      catch (e) { reason.value = ""; reason.placeholder = t("failed") + e.message; }
    });
    box.append(btn);
  }
  return box;
}

async function loadRuns() {
  const list = await api("GET", "/bookings");
  const root = document.querySelector("#runs");
  root.replaceChildren();
  if (!list.bookings.length) root.append(el("div", { class: "note" }, t("noRuns")));
  for (const b of list.bookings) {
    const buttons = [];
    if (b.state === "quoted") buttons.push(["accept", "primary"]);
    if (["requested", "quoted", "accepted", "confirmed"].includes(b.state)) buttons.push(["cancel", "danger"]);
    root.append(runRow(b, buttons.length ? actionBox(b, buttons) : null));
  }
  const ns = await api("GET", "/notifications?limit=20");
  const ul = document.querySelector("#notifications");
  ul.replaceChildren();
  if (!ns.notifications.length) ul.append(el("li", {}, t("noNotes")));
  for (const n of ns.notifications) ul.append(el("li", {}, `${iso(n.at)} · ${lang === "zh" ? n.message_zh : n.message}`));
}

async function loadQueue() {
  const list = await api("GET", "/bookings?state=requested,quoted,accepted,completed");
  const root = document.querySelector("#queue");
  root.replaceChildren();
  if (!list.bookings.length) root.append(el("div", { class: "note" }, t("noQueue")));
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
  } catch (e) { alert(t("failed") + e.message); }
}

async function init() {
  const info = await api("GET", "/me");
  me = info.user;
  if (info.csrf_token) sessionStorage.setItem("pilotline.csrf", info.csrf_token);
  document.querySelector("#who").textContent = `${me.name || me.id}${me.org ? " · " + me.org : ""}`;
  const staff = me.role !== "customer";
  document.querySelector("#tab-queue").hidden = !(me.role === "engineer" || me.role === "admin");
  document.querySelector("#maint").hidden = !(me.role === "engineer" || me.role === "admin");
  document.querySelector("#org-field").hidden = !staff;
  const products = await api("GET", "/products");
  const sel = document.querySelector("#f-product");
  for (const p of products.products || products) sel.append(el("option", { value: p.iso }, `${p.iso} · ${lang === "zh" && p.name_zh ? p.name_zh : p.name}`));
  const today = new Date();
  document.querySelector("#f-start").value = new Date(today.getTime() + 7 * 86400e3).toISOString().slice(0, 10);
  document.querySelector("#f-deadline").value = new Date(today.getTime() + 42 * 86400e3).toISOString().slice(0, 10);
  const hash = location.hash.slice(1);
  if (["calendar", "book", "runs", "queue"].includes(hash)) view = hash;
  render();
  setInterval(() => { if (view === "runs" || view === "queue") refresh(); }, 5000);
}

document.querySelector("#tabs").addEventListener("click", (ev) => {
  const v = ev.target.dataset && ev.target.dataset.view;
  if (v) { view = v; history.replaceState(null, "", "#" + v); render(); }
});
document.querySelector("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("pilotline.lang", lang); render();
});
document.querySelector("#logout").addEventListener("click", async () => {
  try { await api("POST", "/logout"); } finally { location.href = "/login.html"; }
});
document.querySelector("#book-form").addEventListener("submit", submitBooking);
document.querySelector("#quote-accept").addEventListener("click", acceptQuote);
document.querySelector("#f-sampling").addEventListener("change", (e) => {
  for (const l of document.querySelectorAll(".lot")) l.hidden = e.target.value !== "per_lot";
});
document.querySelector("#cal-mode").addEventListener("change", () => loadCalendar());
document.querySelector("#cal-prev").addEventListener("click", () => { calFrom = new Date(calFrom.getTime() - (document.querySelector("#cal-mode").value === "month" ? 35 : 7) * 86400e3); loadCalendar(); });
document.querySelector("#cal-next").addEventListener("click", () => { calFrom = new Date(calFrom.getTime() + (document.querySelector("#cal-mode").value === "month" ? 35 : 7) * 86400e3); loadCalendar(); });
document.querySelector("#m-submit").addEventListener("click", submitMaintenance);
init().catch((e) => console.warn(e));
