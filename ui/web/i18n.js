// Every string of the web view, Simplified Chinese first, English second.
const dict = {
  zh: {
    takt: "节拍 (目标 / 实际)", bursToday: "今日产量", lineOEE: "产线 OEE", energyPerBur: "单支能耗",
    batches: "在制批次", timeline: "最近一小时状态", legend: "图例", spindleLoad: "主轴负载 (%)",
    coolant: "冷却液温度 (°C)", cycleTimes: "最近零件节拍时间 (s)", target: "目标", last: "最近", rolling: "滚动",
    behind: "落后于节拍", onPace: "符合节拍", live: "实时", reconnecting: "重连中", connecting: "连接中",
    noDataSince: "自 {t} 起无数据", noData: "无数据", serverLost: "与服务器的连接中断，自 {t} 起无数据 — 正在重连",
    ack: "确认", acked: "已确认 {n} 条报警仍处于活动状态", today: "今日", burs: "支", perBur: "kWh/支",
    carbon: "碳排放 {v} kg CO₂e/支", availability: "可用率", performance: "性能", quality: "质量",
    group: "工序组", model: "机型", position: "位置", rowCol: "第 {r} 行 第 {c} 列", mode: "运行模式",
    program: "NC 程序", serial: "当前车针", wheel: "砂轮", wheelDia: "砂轮直径", wear: "磨损", dress: "修整次数",
    counter: "零件计数", spindle: "主轴", comm: "通讯", alarms: "报警历史", noAlarms: "无报警", cleared: "已清除",
    active: "活动", oee: "OEE", lineTime: "产线时间", magazine: "毛坯料仓", output: "成品托盘", inspection: "检测站",
    blanks: "毛坯", delivered: "已交付", pass: "合格", fail: "不合格", lastResult: "最近结果", moving: "移动",
    commOK: "正常", commLost: "中断", commStale: "数据陈旧", commNever: "未连接", rpm: "rpm", empty: "空",
    navPortal: "中试预约", navQA: "质量放行",
    dropped: "连接过慢，服务器已断开 — 正在重连", floor: "产线平面图", of: "/", stateSince: "自 {t}",
  },
  en: {
    takt: "Takt (target / actual)", bursToday: "Burs today", lineOEE: "Line OEE", energyPerBur: "Energy per bur",
    batches: "Running batches", timeline: "Last hour of states", legend: "Legend", spindleLoad: "Spindle load (%)",
    coolant: "Coolant temperature (°C)", cycleTimes: "Cycle times of the last parts (s)", target: "target", last: "last", rolling: "rolling",
    behind: "behind takt", onPace: "on pace", live: "Live", reconnecting: "Reconnecting", connecting: "Connecting",
    noDataSince: "no data since {t}", noData: "no data", serverLost: "Connection to the server lost, no data since {t} — reconnecting",
    ack: "Acknowledge", acked: "{n} acknowledged alarms still active", today: "today", burs: "burs", perBur: "kWh/bur",
    carbon: "carbon {v} kg CO₂e/bur", availability: "Availability", performance: "Performance", quality: "Quality",
    group: "Group", model: "Model", position: "Position", rowCol: "row {r}, column {c}", mode: "Operation mode",
    program: "NC program", serial: "Bur in machine", wheel: "Wheel", wheelDia: "Wheel diameter", wear: "Wear", dress: "Dressings",
    counter: "Part counter", spindle: "Spindle", comm: "Communication", alarms: "Alarm history", noAlarms: "no alarms", cleared: "cleared",
    navPortal: "Pilot-run bookings", navQA: "QA release",
    active: "active", oee: "OEE", lineTime: "line time", magazine: "Blank magazine", output: "Output tray", inspection: "Inspection",
    blanks: "blanks", delivered: "delivered", pass: "pass", fail: "fail", lastResult: "last result", moving: "moving",
    commOK: "OK", commLost: "lost", commStale: "stale", commNever: "never connected", rpm: "rpm", empty: "empty",
    dropped: "Connection too slow, dropped by the server — reconnecting", floor: "Floor plan", of: "/", stateSince: "since {t}",
  },
};

const states = {
  idle: ["空闲", "Idle"], loading: ["上料", "Loading"], grinding: ["磨削中", "Grinding"], unloading: ["下料", "Unloading"],
  dressing: ["砂轮修整", "Dressing"], tool_change: ["换砂轮", "Wheel change"], alarm: ["报警", "Alarm"],
  starved: ["待料", "Starved"], blocked: ["阻塞", "Blocked"], maintenance: ["维护", "Maintenance"],
  measuring: ["测量中", "Measuring"], moving: ["移动", "Moving"], comm_lost: ["通讯中断", "Comm lost"], offline: ["离线", "Offline"],
};

let lang = localStorage.getItem("pilotline.lang") || "zh";

export function getLang() { return lang; }
export function setLang(l) { lang = l; localStorage.setItem("pilotline.lang", l); document.documentElement.lang = l === "zh" ? "zh-CN" : "en"; }

// t returns the string for key, with {name} placeholders filled from vars.
export function t(key, vars = {}) {
  const s = dict[lang][key] ?? dict.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
}

export function stateLabel(s) {
  const p = states[s];
  return p ? p[lang === "zh" ? 0 : 1] : s;
}

export function name(obj) {
  return lang === "zh" && obj?.name_zh ? obj.name_zh : obj?.name ?? "";
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
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${isoTime(d)}`;
}

export function isoTime(d) {
  if (!d) return "—";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function pct(v) { return v == null ? "—" : `${(v * 100).toFixed(1)} %`; }
