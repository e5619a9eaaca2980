// The one dictionary of the web front end (strings.json: every key with its
// Simplified Chinese and English text) and the formats every page shares.
import strings from "./strings.json" with { type: "json" };

const KEY = "pilotline.lang";
let lang = localStorage.getItem(KEY) === "en" ? "en" : "zh";

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

// other is the language the toggle switches to.
export function other(l = lang) { return l === "zh" ? "en" : "zh"; }

// tIn returns the text of key in language l, with {name} placeholders
// filled from vars; an unknown key returns itself, so a gap shows.
export function tIn(l, key, vars = {}) {
  const s = strings[key]?.[l] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

// t returns the text of key in the UI's language.
export function t(key, vars) { return tIn(lang, key, vars); }

// has reports whether the dictionary knows key.
export function has(key) { return key in strings; }

// label is the text of a prefixed code ("state.grinding"), or the code
// itself when the dictionary does not know it (a new state from a newer server).
export function label(prefix, code) { return has(prefix + code) ? t(prefix + code) : String(code ?? ""); }

export const stateLabel = (s) => label("state.", s);
export const charName = (c) => label("char.", c);

// name picks name_zh in the Chinese UI when there is one.
export function name(obj) {
  return lang === "zh" && obj?.name_zh ? obj.name_zh : obj?.name ?? "";
}

// applyLabels fills every [data-t] element under root in the UI's language.
export function applyLabels(root = document) {
  for (const e of root.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
}

// parseTime turns a JSON time into a Date, or null for Go's zero time.
export function parseTime(s) {
  if (!s) return null;
  const d = new Date(s);
  return isNaN(d) || d.getFullYear() < 1971 ? null : d;
}

const pad = (n) => String(n).padStart(2, "0");

// isoDateTime formats as YYYY-MM-DD HH:MM:SS in local time.
export function isoDateTime(d) {
  if (!d) return "—";
  return `${isoDate(d)} ${isoTime(d)}`;
}

// isoDate formats as YYYY-MM-DD in local time.
export function isoDate(d) {
  if (!d) return "—";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function isoTime(d) {
  if (!d) return "—";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// utcOffset names the local zone's offset, "UTC" or "UTC+08:00".
export function utcOffset(d = new Date()) {
  const off = -d.getTimezoneOffset();
  return off === 0 ? "UTC" : `UTC${off > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

export function pct(v) { return v == null ? "—" : `${(v * 100).toFixed(1)} %`; }
