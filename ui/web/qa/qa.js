// QA review page: review by exception, NC disposition, and release with an
// e-signature (password re-entered at signing). Every label shows Chinese
// first and English beside it: the record is read by the plant and by the
// customer's auditors alike.
import { t, tIn, getLang, setLang, other, has } from "../lib/i18n.js";
import { api as call, me as whoami, signOut } from "../lib/api.js";
import { el as make } from "../lib/dom.js";

const $ = (id) => document.getElementById(id);
let current = null;
let me = null;

// bi renders key in the UI's language first and the other one quieter
// beside it: the record is read by the plant and by the customer's
// auditors alike. An unknown key (a new code from a newer server) shows as is.
function bi(key, vars) {
  const f = document.createDocumentFragment();
  if (!has(key)) { f.append(el("span", key.replace(/^\w+\./, ""), "zh")); return f; }
  f.append(el("span", t(key, vars), "zh"));
  const o = tIn(other(), key, vars);
  if (o) f.append(el("span", o, "en"));
  return f;
}

// text is the one-line form "中文 · English", for options and placeholders.
const text = (key) => `${t(key)} · ${tIn(other(), key)}`;

function el(tag, content, cls) {
  return make(tag, { class: cls }, content);
}

// api calls the API; a 401 at signing is a wrong password, not an expired session.
const api = (method, path, body) => call(method, path, body, { stay: path.endsWith("/sign") });

function notice(content, ok) {
  const n = $("notice");
  n.replaceChildren(content);
  n.className = ok ? "notice ok" : "notice";
  n.hidden = false;
}

// failure shows an error: the summary in the UI's language first, the
// server's own words after.
function failure(e, lead = "failed") {
  const f = document.createDocumentFragment();
  f.append(el("span", t(lead, { m: "" }), "zh"), el("span", e.message, "en"));
  return f;
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
  $("lang").textContent = t("toggle");
  for (const e of document.querySelectorAll("[data-t]")) e.replaceChildren(bi(e.dataset.t));
  for (const o of $("meaning").options) o.textContent = text("qa." + o.value);
}

function fill(list, items, fmt) {
  const ul = $(list);
  ul.replaceChildren();
  if (!items || items.length === 0) { ul.append(el("li", bi("none"), "none")); return; }
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
  tr.append(el("td", nc.id, "mono"), el("td", nc.serial, "mono"), el("td", bi("nc." + nc.source)),
    el("td", nc.description), el("td", bi("qa." + nc.state)));
  const td = el("td");
  if (nc.state !== "closed" && canDecide()) {
    const form = el("form", undefined, "disp");
    const sel = el("select", undefined, "disp-choice");
    for (const d of ["scrap", "rework", "use_as_is"]) { const o = el("option", text("qa." + d)); o.value = d; sel.append(o); }
    const reason = el("input", undefined, "disp-reason"); reason.placeholder = text("qa.reason"); reason.required = true; reason.maxLength = 500;
    const conc = el("input", undefined, "disp-concession"); conc.placeholder = text("qa.concession"); conc.maxLength = 200;
    conc.hidden = true;
    sel.addEventListener("change", () => { conc.hidden = sel.value !== "use_as_is"; conc.required = !conc.hidden; });
    const btn = el("button", bi("qa.apply"), "small disp-apply"); btn.type = "submit";
    form.append(sel, reason, conc, btn);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      btn.disabled = true;
      try {
        await api("POST", `/ncs/${encodeURIComponent(nc.id)}/disposition`, { disposition: sel.value, reason: reason.value, concession: conc.value });
        notice(bi("qa.disposed", { id: nc.id }), true);
        await load();
      } catch (e) { notice(failure(e)); btn.disabled = false; }
    });
    td.append(form);
  } else if (nc.state === "closed") {
    td.append(bi("qa." + nc.disposition), el("div", `${nc.reason}${nc.concession ? " (" + nc.concession + ")" : ""}`),
      el("div", `${nc.closed_by} · ${when(nc.closed_at)}`, "meta"));
  }
  tr.append(td);
  return tr;
}

function sigItem(s) {
  const li = el("li", undefined, "sig");
  li.append(el("b", s.printed_name), el("span", ` (${s.signer_id})`, "meta"), el("span", " — "), bi("qa." + s.meaning));
  li.append(el("div", `${when(s.signed_at)}${s.comment ? " · " + s.comment : ""}`, "meta"));
  li.append(el("div", `SHA-256 ${s.record_hash}`, "meta mono"));
  return li;
}

function render(r) {
  const b = r.batch;
  const st = $("state");
  st.replaceChildren(bi("batch." + b.state));
  st.dataset.state = b.state;
  const opt = [...$("batch").options].find((o) => o.value === b.id);
  if (opt) opt.textContent = `${b.id} · ${text("batch." + b.state)}`;
  $("product").textContent = b.product;
  $("quantity").textContent = `${b.completed} / ${b.scrap} / ${b.quantity}`;
  $("hash").textContent = r.record_hash;
  const v = $("verdict");
  const final = b.state === "qa_released" || b.state === "rejected";
  v.replaceChildren(final ? bi("batch." + b.state) : bi(r.can_release ? "qa.canRelease" : "qa.blocked"));
  v.className = "verdict " + (final ? (b.state === "qa_released" ? "ok final" : "blocked final") : r.can_release ? "ok" : "blocked");
  $("blockers").replaceChildren(...(r.can_release || final ? [] : r.blockers).map((x) => el("li", x)));
  $("ncCount").textContent = `${t("qa.openNCs", { n: r.open_ncs })} / ${r.ncs.length}`;
  if (r.ncs.length === 0) $("ncs").replaceChildren(el("tr", el("td", bi("none"), "none")));
  else $("ncs").replaceChildren(...r.ncs.map(ncRow));
  fill("spc", r.spc_alerts, (a) => `${text("char." + a.characteristic)}: ${a.violation.rule} (${a.violation.chart}) · ${a.violation.serial} = ${a.violation.value}`);
  $("cap").replaceChildren(...(r.capability || []).map((c) => {
    const tr = el("tr");
    const cp = c.capability.defined ? c.capability.cp.toFixed(2) : "—";
    const cpk = c.capability.defined ? c.capability.cpk.toFixed(2) : "—";
    tr.append(el("td", bi("char." + c.characteristic)));
    for (const x of [c.n, c.fail, c.tolerance.lsl_mm, c.tolerance.usl_mm, cp, cpk]) tr.append(el("td", String(x), "num"));
    if (c.fail > 0) tr.className = "warn";
    return tr;
  }));
  fill("alarms", r.alarms, (e) => `${when(e.source_time)} ${e.machine} ${e.alarm ? e.alarm.code + " " + ((getLang() === "zh" && e.alarm.text_zh) || e.alarm.text || "") : ""}`);
  fill("comm", r.comm_lost, (g) => `${g.machine}: ${when(g.from)} ${t("to")} ${g.to ? when(g.to) : "…"}`);
  fill("missing", r.missing_measurements, (m) => `${m.serial}: ${m.missing.map((c) => text("char." + c)).join(", ")}`);
  fill("sigs", r.signatures, sigItem);
  $("sign").hidden = !canDecide() || final;
  const ex = $("exports");
  ex.replaceChildren(...[["csv", "csv"], ["measurements.csv", "measurements"], ["json", "json"], ["pdf", "pdf"], ["bundle", "bundle"]].map(([f, k]) => {
    const a = el("a", bi("qa." + k));
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
      { user: $("signer").value.trim(), password: $("password").value, meaning: $("meaning").value, reason: $("reason").value });
    notice(bi("qa.signed", { id: res.signature.id, state: t("batch." + res.batch.state) }), true);
    $("reason").value = "";
    await load();
  } catch (e) {
    signError(failure(e, e.status === 401 ? "qa.wrongPassword" : e.status === 429 ? "qa.tooMany" : e.status === 409 ? "qa.cannotSign" : "failed"));
  } finally {
    // A password never stays in the page, signed or refused.
    $("password").value = "";
    btn.disabled = false;
  }
}

async function init() {
  labels();
  $("logout").addEventListener("click", signOut);
  $("lang").addEventListener("click", () => { setLang(other()); labels(); if (current) render(current); });
  $("sign").addEventListener("submit", sign);
  try {
    me = await whoami();
    $("who").textContent = `${me.user.name || me.user.id} (${me.user.id} · ${me.user.role})`;
    const wanted = me.user.role === "customer" ? "qa_released" : "completed,held,running,qa_released,rejected";
    const list = await api("GET", `/batches?state=${wanted}`);
    const sel = $("batch");
    for (const b of list.batches) { const o = el("option", `${b.id} · ${text("batch." + b.state)}`); o.value = b.id; sel.append(o); }
    const want = new URLSearchParams(location.search).get("batch");
    if (want && [...sel.options].some((o) => o.value === want)) sel.value = want;
    sel.addEventListener("change", () => {
      history.replaceState(null, "", `?batch=${encodeURIComponent(sel.value)}`);
      load().catch((e) => notice(failure(e)));
    });
    if (!sel.value) { notice(bi("qa.noBatch")); return; }
    await load();
  } catch (e) { notice(failure(e)); }
}

setLang(getLang());
init();
