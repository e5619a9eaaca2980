// QA review page: review by exception, NC disposition, and release with an
// e-signature (password re-entered at signing). Every label shows Chinese
// first and English beside it: the record is read by the plant and by the
// customer's auditors alike.
const dict = {
  title: ["质量审核 · 批次放行", "QA review · batch release"], batch: ["批次", "Batch"], twin: ["数字孪生", "Twin"],
  logout: ["退出", "Sign out"], summary: ["批次记录", "Batch record"], state: ["状态", "State"], product: ["产品", "Product"],
  quantity: ["合格 / 报废 / 订购", "Good / scrap / ordered"], recordHash: ["记录哈希", "Record hash"],
  canRelease: ["可放行", "Ready for release"], blocked: ["不可放行", "Release blocked"],
  ncs: ["不合格品 (NC)", "Nonconformances"], serial: ["序列号", "Serial"], source: ["来源", "Source"],
  description: ["描述", "Description"], ncState: ["状态", "State"], disposition: ["处置", "Disposition"],
  spc: ["SPC 报警与过程能力", "SPC alerts and capability"], characteristic: ["特性", "Characteristic"], fail: ["不合格", "Fail"],
  alarms: ["批次期间的报警", "Alarms during the batch"], commLost: ["通讯中断", "Comm-lost gaps"],
  missing: ["缺失的测量", "Missing measurements"], signatures: ["电子签名", "E-signatures"], meaning: ["签名含义", "Meaning"],
  released: ["放行", "Released"], reviewed: ["已审核", "Reviewed"], rejected: ["拒收", "Rejected"],
  reason: ["理由", "Reason"], password: ["重新输入密码", "Re-enter password"], sign: ["签名", "Sign"],
  signHint: ["签名即确认上述批次记录（以其哈希绑定），依据 21 CFR Part 11。", "By signing you attest the batch record above, bound by its hash (21 CFR Part 11)."],
  exports: ["追溯记录导出", "Trace record exports"], none: ["无", "none"], open: ["未关闭", "open"], closed: ["已关闭", "closed"],
  scrap: ["报废", "Scrap"], rework: ["返工", "Rework"], use_as_is: ["让步接收", "Use as is"], concession: ["让步编号", "Concession ref."],
  apply: ["处置", "Dispose"], signed: ["已签名", "Signed"], disposed: ["已处置", "Disposition recorded"],
  noBatch: ["没有可审核的批次", "No batch to review"], csv: ["工序 CSV", "Operations CSV"], measurements: ["测量 CSV", "Measurements CSV"],
  json: ["完整记录 JSON", "Full record JSON"], pdf: ["PDF 合格证", "PDF certificate"], bundle: ["审计包 (zip)", "Audit bundle (zip)"],
  to: ["至", "to"], by: ["签名人", "by"],
  wrongPassword: ["密码错误，未签名。", ""], tooMany: ["尝试次数过多，请稍后再试。", ""], cannotSign: ["无法签名：", ""],
  failed: ["操作失败：", ""],
};
const states = {
  planned: ["计划", "planned"], released: ["已下达生产", "released to production"], running: ["生产中", "running"],
  held: ["冻结", "held"], completed: ["已完工，待放行", "completed, awaiting release"], qa_released: ["质量已放行", "QA released"],
  rejected: ["已拒收", "rejected"], cancelled: ["已取消", "cancelled"],
};
const sources = {
  measurement: ["测量超差", "measurement"], aborted_cycle: ["加工中止", "aborted cycle"], spc: ["SPC 可疑", "SPC suspect"],
  manual: ["人工", "manual"],
};
const chars = {
  head_diameter: ["头部直径", "head diameter"], working_length: ["工作长度", "working length"],
  overall_length: ["总长", "overall length"], shank_diameter: ["柄部直径", "shank diameter"], radial_runout: ["径向跳动", "radial runout"],
};
const $ = (id) => document.getElementById(id);
let current = null;
let me = null;

// pair returns [zh, en] for a key of table (the key itself when unknown).
const pair = (table, k) => table[k] ?? [k, ""];
// text is the one-line form "中文 · English", for options and placeholders.
const text = ([zh, en]) => (en ? `${zh} · ${en}` : zh);

// bi renders a [zh, en] pair: Chinese first, English quieter beside it.
function bi([zh, en]) {
  const f = document.createDocumentFragment();
  f.append(el("span", zh, "zh"));
  if (en) f.append(el("span", en, "en"));
  return f;
}

function el(tag, content, cls) {
  const e = document.createElement(tag);
  if (content instanceof Node) e.append(content);
  else if (content !== undefined) e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

function csrf() {
  if (me && me.csrf_token) return me.csrf_token;
  const m = document.cookie.match(/(?:^|;\s*)pilotline_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && !path.endsWith("/sign")) location.href = "/login.html?next=" + encodeURIComponent(location.pathname + location.search);
    const err = new Error(data.error ? data.error.message : res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

function notice(content, ok) {
  const n = $("notice");
  n.replaceChildren(content);
  n.className = ok ? "notice ok" : "notice";
  n.hidden = false;
}

// failure shows an error: the Chinese summary first, the server's own words after.
function failure(e, lead = "failed") {
  return bi([dict[lead][0], e.message]);
}

const pad = (n) => String(n).padStart(2, "0");

// when writes a time as ISO date and time with its UTC offset: the same for
// every reader of the record, whatever their language.
function when(s) {
  if (!s) return "";
  const d = new Date(s);
  const off = -d.getTimezoneOffset();
  const z = off === 0 ? "UTC" : `UTC${off > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${z}`;
}

function labels() {
  for (const e of document.querySelectorAll("[data-t]")) e.replaceChildren(bi(pair(dict, e.dataset.t)));
  for (const o of $("meaning").options) o.textContent = text(pair(dict, o.value));
}

function fill(list, items, fmt) {
  const ul = $(list);
  ul.replaceChildren();
  if (!items || items.length === 0) { ul.append(el("li", bi(dict.none), "none")); return; }
  for (const it of items) {
    const v = fmt(it);
    ul.append(v instanceof Node && v.nodeName === "LI" ? v : el("li", v));
  }
}

const canDecide = () => me && (me.user.role === "qa" || me.user.role === "admin");

function ncRow(nc) {
  const tr = el("tr");
  tr.dataset.id = nc.id;
  if (nc.state !== "closed") tr.className = "open";
  tr.append(el("td", nc.id, "mono"), el("td", nc.serial, "mono"), el("td", bi(pair(sources, nc.source))),
    el("td", nc.description), el("td", bi(pair(dict, nc.state))));
  const td = el("td");
  if (nc.state !== "closed" && canDecide()) {
    const form = el("form", undefined, "disp");
    const sel = el("select", undefined, "disp-choice");
    for (const d of ["scrap", "rework", "use_as_is"]) { const o = el("option", text(dict[d])); o.value = d; sel.append(o); }
    const reason = el("input", undefined, "disp-reason"); reason.placeholder = text(dict.reason); reason.required = true; reason.maxLength = 500;
    const conc = el("input", undefined, "disp-concession"); conc.placeholder = text(dict.concession); conc.maxLength = 200;
    conc.hidden = true;
    sel.addEventListener("change", () => { conc.hidden = sel.value !== "use_as_is"; conc.required = !conc.hidden; });
    const btn = el("button", bi(dict.apply), "small disp-apply"); btn.type = "submit";
    form.append(sel, reason, conc, btn);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      btn.disabled = true;
      try {
        await api("POST", `/ncs/${encodeURIComponent(nc.id)}/disposition`, { disposition: sel.value, reason: reason.value, concession: conc.value });
        notice(bi([`${dict.disposed[0]}：${nc.id}`, dict.disposed[1]]), true);
        await load();
      } catch (e) { notice(failure(e)); btn.disabled = false; }
    });
    td.append(form);
  } else if (nc.state === "closed") {
    td.append(bi(pair(dict, nc.disposition)), el("div", `${nc.reason}${nc.concession ? " (" + nc.concession + ")" : ""}`),
      el("div", `${nc.closed_by} · ${when(nc.closed_at)}`, "meta"));
  }
  tr.append(td);
  return tr;
}

function sigItem(s) {
  const li = el("li", undefined, "sig");
  li.append(el("b", s.printed_name), el("span", ` (${s.signer_id})`, "meta"), el("span", " — "), bi(pair(dict, s.meaning)));
  li.append(el("div", `${when(s.signed_at)}${s.comment ? " · " + s.comment : ""}`, "meta"));
  li.append(el("div", `SHA-256 ${s.record_hash}`, "meta mono"));
  return li;
}

function render(r) {
  const b = r.batch;
  const st = $("state");
  st.replaceChildren(bi(pair(states, b.state)));
  st.dataset.state = b.state;
  const opt = [...$("batch").options].find((o) => o.value === b.id);
  if (opt) opt.textContent = `${b.id} · ${text(pair(states, b.state))}`;
  $("product").textContent = b.product;
  $("quantity").textContent = `${b.completed} / ${b.scrap} / ${b.quantity}`;
  $("hash").textContent = r.record_hash;
  const v = $("verdict");
  const final = b.state === "qa_released" || b.state === "rejected";
  v.replaceChildren(final ? bi(pair(states, b.state)) : bi(r.can_release ? dict.canRelease : dict.blocked));
  v.className = "verdict " + (final ? (b.state === "qa_released" ? "ok final" : "blocked final") : r.can_release ? "ok" : "blocked");
  $("blockers").replaceChildren(...(r.can_release || final ? [] : r.blockers).map((x) => el("li", x)));
  $("ncCount").textContent = `${r.open_ncs} ${dict.open[0]} ${dict.open[1]} / ${r.ncs.length}`;
  if (r.ncs.length === 0) $("ncs").replaceChildren(el("tr", el("td", bi(dict.none), "none")));
  else $("ncs").replaceChildren(...r.ncs.map(ncRow));
  fill("spc", r.spc_alerts, (a) => `${text(pair(chars, a.characteristic))}: ${a.violation.rule} (${a.violation.chart}) · ${a.violation.serial} = ${a.violation.value}`);
  $("cap").replaceChildren(...(r.capability || []).map((c) => {
    const tr = el("tr");
    const cp = c.capability.defined ? c.capability.cp.toFixed(2) : "—";
    const cpk = c.capability.defined ? c.capability.cpk.toFixed(2) : "—";
    tr.append(el("td", bi(pair(chars, c.characteristic))));
    for (const x of [c.n, c.fail, c.tolerance.lsl_mm, c.tolerance.usl_mm, cp, cpk]) tr.append(el("td", String(x), "num"));
    if (c.fail > 0) tr.className = "warn";
    return tr;
  }));
  fill("alarms", r.alarms, (e) => `${when(e.source_time)} ${e.machine} ${e.alarm ? e.alarm.code + " " + (e.alarm.text_zh || e.alarm.text || "") : ""}`);
  fill("comm", r.comm_lost, (g) => `${g.machine}: ${when(g.from)} ${dict.to[0]} ${g.to ? when(g.to) : "…"}`);
  fill("missing", r.missing_measurements, (m) => `${m.serial}: ${m.missing.map((c) => text(pair(chars, c))).join(", ")}`);
  fill("sigs", r.signatures, sigItem);
  $("sign").hidden = !canDecide() || final;
  const ex = $("exports");
  ex.replaceChildren(...[["csv", "csv"], ["measurements.csv", "measurements"], ["json", "json"], ["pdf", "pdf"], ["bundle", "bundle"]].map(([f, k]) => {
    const a = el("a", bi(dict[k]));
    a.href = `/api/v1/batches/${encodeURIComponent(b.id)}/trace?format=${encodeURIComponent(f)}`;
    a.dataset.format = f;
    a.download = "";
    return a;
  }));
}

async function load() {
  const id = $("batch").value;
  if (!id) return;
  current = await api("GET", `/batches/${encodeURIComponent(id)}/review`);
  render(current);
}

function signError(content) {
  const e = $("sign-error");
  if (content) e.replaceChildren(content);
  e.hidden = !content;
}

async function sign(ev) {
  ev.preventDefault();
  const btn = $("signBtn");
  btn.disabled = true;
  signError(null);
  try {
    const res = await api("POST", `/batches/${encodeURIComponent($("batch").value)}/sign`,
      { password: $("password").value, meaning: $("meaning").value, reason: $("reason").value });
    notice(bi([`${dict.signed[0]}：${res.signature.id} · ${pair(states, res.batch.state)[0]}`, `${dict.signed[1]}: ${pair(states, res.batch.state)[1]}`]), true);
    $("reason").value = "";
    await load();
  } catch (e) {
    signError(failure(e, e.status === 401 ? "wrongPassword" : e.status === 429 ? "tooMany" : e.status === 409 ? "cannotSign" : "failed"));
  } finally {
    // A password never stays in the page, signed or refused.
    $("password").value = "";
    btn.disabled = false;
  }
}

async function init() {
  labels();
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/logout"); } finally { location.href = "/login.html"; }
  });
  $("sign").addEventListener("submit", sign);
  try {
    me = await api("GET", "/me");
    $("who").textContent = `${me.user.name || me.user.id} (${me.user.id} · ${me.user.role})`;
    const wanted = me.user.role === "customer" ? "qa_released" : "completed,held,running,qa_released,rejected";
    const list = await api("GET", `/batches?state=${wanted}`);
    const sel = $("batch");
    for (const b of list.batches) { const o = el("option", `${b.id} · ${text(pair(states, b.state))}`); o.value = b.id; sel.append(o); }
    const want = new URLSearchParams(location.search).get("batch");
    if (want && [...sel.options].some((o) => o.value === want)) sel.value = want;
    sel.addEventListener("change", () => {
      history.replaceState(null, "", `?batch=${encodeURIComponent(sel.value)}`);
      load().catch((e) => notice(failure(e)));
    });
    if (!sel.value) { notice(bi(dict.noBatch)); return; }
    await load();
  } catch (e) { notice(failure(e)); }
}

init();
