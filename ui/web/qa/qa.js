// QA review page: review by exception, NC disposition, and release with an
// e-signature (password re-entered at signing). Chinese first, English second.
const dict = {
  zh: {
    title: "质量审核 · 批次放行", batch: "批次", twin: "数字孪生", summary: "批次记录", state: "状态", product: "产品",
    quantity: "数量 (合格 / 报废 / 订购)", recordHash: "记录哈希", canRelease: "可放行", blocked: "不可放行",
    ncs: "不合格品 (NC)", serial: "序列号", source: "来源", description: "描述", ncState: "状态", disposition: "处置",
    spc: "SPC 报警与过程能力", characteristic: "特性", fail: "不合格", alarms: "批次期间的报警", commLost: "通讯中断",
    missing: "缺失的测量", signatures: "电子签名", meaning: "签名含义", released: "放行 (released)",
    reviewed: "已审核 (reviewed)", rejected: "拒收 (rejected)", reason: "理由", password: "重新输入密码", sign: "签名",
    signHint: "签名即确认上述批次记录（以其哈希绑定），依据 21 CFR Part 11。",
    exports: "追溯记录导出", none: "无", open: "未关闭", closed: "已关闭", scrap: "报废", rework: "返工",
    use_as_is: "让步接收", concession: "让步编号", apply: "处置", signed: "已签名", disposed: "已处置",
    noBatch: "没有可审核的批次", csv: "工序 CSV", measurements: "测量 CSV", json: "JSON", pdf: "PDF 证书", bundle: "审计包 (zip)",
    since: "至", lang: "English",
  },
  en: {
    title: "QA review · batch release", batch: "Batch", twin: "Twin", summary: "Batch record", state: "State", product: "Product",
    quantity: "Quantity (good / scrap / ordered)", recordHash: "Record hash", canRelease: "Ready for release", blocked: "Release blocked",
    ncs: "Nonconformances", serial: "Serial", source: "Source", description: "Description", ncState: "State", disposition: "Disposition",
    spc: "SPC alerts and capability", characteristic: "Characteristic", fail: "fail", alarms: "Alarms during the batch", commLost: "Comm-lost gaps",
    missing: "Missing measurements", signatures: "E-signatures", meaning: "Meaning", released: "Released",
    reviewed: "Reviewed", rejected: "Rejected", reason: "Reason", password: "Re-enter password", sign: "Sign",
    signHint: "By signing you attest the batch record above, bound by its hash (21 CFR Part 11).",
    exports: "Trace record exports", none: "none", open: "open", closed: "closed", scrap: "scrap", rework: "rework",
    use_as_is: "use as is", concession: "concession ref.", apply: "Dispose", signed: "Signed", disposed: "Disposition recorded",
    noBatch: "no batch to review", csv: "Operations CSV", measurements: "Measurements CSV", json: "JSON", pdf: "PDF certificate", bundle: "Audit bundle (zip)",
    since: "to", lang: "中文",
  },
};
let lang = localStorage.getItem("pilotline.lang") === "en" ? "en" : "zh";
const t = (k) => dict[lang][k] ?? k;
const $ = (id) => document.getElementById(id);
let current = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)pilotline_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.headers["X-CSRF-Token"] = csrf();
    opts.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && !path.endsWith("/sign")) location.href = "/login.html?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error(data.error ? data.error.message : res.statusText);
  }
  return data;
}

function notice(msg, ok) {
  const n = $("notice");
  n.textContent = msg;
  n.className = ok ? "notice ok" : "notice";
  n.hidden = !msg;
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  $("lang").textContent = t("lang");
  if (current) render(current);
}

function fill(list, items, fmt) {
  const ul = $(list);
  ul.replaceChildren();
  if (!items || items.length === 0) { ul.append(el("li", t("none"), "none")); return; }
  for (const it of items) ul.append(el("li", fmt(it)));
}

const when = (s) => (s ? new Date(s).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "");

function ncRow(nc) {
  const tr = el("tr");
  if (nc.state === "open") tr.className = "open";
  for (const v of [nc.id, nc.serial, nc.source, nc.description, t(nc.state)]) tr.append(el("td", v));
  const td = el("td");
  if (nc.state === "open") {
    const form = el("form", undefined, "disp");
    const sel = el("select");
    for (const d of ["scrap", "rework", "use_as_is"]) { const o = el("option", t(d)); o.value = d; sel.append(o); }
    const reason = el("input"); reason.placeholder = t("reason"); reason.required = true;
    const conc = el("input"); conc.placeholder = t("concession");
    const btn = el("button", t("apply"), "small"); btn.type = "submit";
    form.append(sel, reason, conc, btn);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      btn.disabled = true;
      try {
        await api("POST", `/ncs/${nc.id}/disposition`, { disposition: sel.value, reason: reason.value, concession: conc.value });
        notice(`${t("disposed")}: ${nc.id}`, true);
        await load();
      } catch (e) { notice(e.message); btn.disabled = false; }
    });
    td.append(form);
  } else {
    td.textContent = `${t(nc.disposition)} — ${nc.reason}${nc.concession ? " (" + nc.concession + ")" : ""} · ${nc.closed_by}`;
  }
  tr.append(td);
  return tr;
}

function render(r) {
  const b = r.batch;
  $("state").textContent = b.state;
  $("product").textContent = b.product;
  $("quantity").textContent = `${b.completed} / ${b.scrap} / ${b.quantity}`;
  $("hash").textContent = r.record_hash;
  const v = $("verdict");
  v.textContent = r.can_release ? t("canRelease") : t("blocked");
  v.className = "verdict " + (r.can_release ? "ok" : "blocked");
  fill("blockers", r.can_release ? [] : r.blockers, (x) => x);
  $("ncCount").textContent = `${r.open_ncs} ${t("open")} / ${r.ncs.length}`;
  $("ncs").replaceChildren(...r.ncs.map(ncRow));
  fill("spc", r.spc_alerts, (a) => `${a.characteristic}: ${a.violation.rule} (${a.violation.chart}) · ${a.violation.serial} = ${a.violation.value}`);
  $("cap").replaceChildren(...(r.capability || []).map((c) => {
    const tr = el("tr");
    const cp = c.capability.defined ? c.capability.cp.toFixed(2) : "—";
    const cpk = c.capability.defined ? c.capability.cpk.toFixed(2) : "—";
    for (const x of [c.characteristic, c.n, c.fail, c.tolerance.lsl_mm, c.tolerance.usl_mm, cp, cpk]) tr.append(el("td", String(x)));
    return tr;
  }));
  fill("alarms", r.alarms, (e) => `${when(e.source_time)} ${e.machine} ${e.alarm ? e.alarm.code + " " + (e.alarm.text || "") : ""}`);
  fill("comm", r.comm_lost, (g) => `${g.machine}: ${when(g.from)} ${t("since")} ${g.to ? when(g.to) : "…"}`);
  fill("missing", r.missing_measurements, (m) => `${m.serial}: ${m.missing.join(", ")}`);
  fill("sigs", r.signatures, (s) => `${s.printed_name} (${s.signer_id}), ${when(s.signed_at)}, ${t(s.meaning)}${s.comment ? " — " + s.comment : ""} · ${s.record_hash.slice(0, 16)}…`);
  const ex = $("exports");
  ex.replaceChildren(...[["csv", "csv"], ["measurements.csv", "measurements"], ["json", "json"], ["pdf", "pdf"], ["bundle", "bundle"]].map(([f, k]) => {
    const a = el("a", t(k));
    a.href = `/api/v1/batches/${encodeURIComponent(b.id)}/trace?format=${encodeURIComponent(f)}`;
    return a;
  }));
}

async function load() {
  const id = $("batch").value;
  if (!id) return;
  current = await api("GET", `/batches/${encodeURIComponent(id)}/review`);
  render(current);
}

async function init() {
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("pilotline.lang", lang);
    applyLang();
  });
  applyLang();
  try {
    const me = await api("GET", "/me");
    $("who").textContent = `${me.user.name || me.user.id} (${me.user.role})`;
    const list = await api("GET", "/batches?state=completed,held,running,qa_released,rejected");
    const sel = $("batch");
    for (const b of list.batches) { const o = el("option", `${b.id} · ${b.state}`); o.value = b.id; sel.append(o); }
    const want = new URLSearchParams(location.search).get("batch");
    if (want) sel.value = want;
    sel.addEventListener("change", () => load().catch((e) => notice(e.message)));
    if (!sel.value) { notice(t("noBatch")); return; }
    await load();
  } catch (e) { notice(e.message); }

  $("sign").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = $("signBtn");
    btn.disabled = true;
    try {
      const res = await api("POST", `/batches/${encodeURIComponent($("batch").value)}/sign`,
        { password: $("password").value, meaning: $("meaning").value, reason: $("reason").value });
      notice(`${t("signed")}: ${res.signature.id} · ${res.batch.state}`, true);
      $("password").value = "";
      await load();
    } catch (e) { notice(e.message); } finally { btn.disabled = false; }
  });
}

init();
