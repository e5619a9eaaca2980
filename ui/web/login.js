// Sign-in page: posts the credentials as JSON, keeps the CSRF token for the
// other pages, and returns to the page that sent the browser here.

const text = {
  zh: {
    title: "登录", user: "用户名", password: "密码", submit: "登录", busy: "正在登录…",
    note: "客户账户只能看到本组织的批次与预约。",
    bad: "用户名或密码错误。", required: "请输入用户名和密码。",
    limited: (s) => `尝试次数过多，请 ${s} 秒后再试。`, failed: "登录失败，请稍后再试。", toggle: "EN",
  },
  en: {
    title: "Sign in", user: "User name", password: "Password", submit: "Sign in", busy: "Signing in…",
    note: "Customer accounts see their own organisation's batches and bookings only.",
    bad: "Wrong user name or password.", required: "Enter your user name and password.",
    limited: (s) => `Too many attempts: try again in ${s} s.`, failed: "Sign-in failed; please try again later.", toggle: "中文",
  },
};

let lang = localStorage.getItem("pilotline.lang") || "zh";

function t(key, ...args) {
  const v = text[lang][key];
  return typeof v === "function" ? v(...args) : v;
}

function render() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  document.querySelector("#lang").textContent = t("toggle");
  document.title = `Pilotline · ${t("title")}`;
}

// next is where to go after signing in: a path on this site only, never
// another origin ("//host" or "/\host" would leave it).
function next() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  return /^\/(?![\/\\])/.test(n) ? n : "/";
}

function showError(msg) {
  const el = document.querySelector("#login-error");
  el.textContent = msg;
  el.hidden = !msg;
}

async function submit(ev) {
  ev.preventDefault();
  const user = document.querySelector("#user").value.trim();
  const password = document.querySelector("#password").value;
  if (!user || !password) { showError(t("required")); return; }
  const button = document.querySelector("#login-submit");
  button.disabled = true;
  button.textContent = t("busy");
  try {
    const res = await fetch("/api/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, password }),
      credentials: "same-origin",
    });
    if (res.ok) {
      const info = await res.json();
      sessionStorage.setItem("pilotline.csrf", info.csrf_token);
      sessionStorage.setItem("pilotline.user", JSON.stringify(info.user));
      location.replace(next());
      return;
    }
    if (res.status === 429) showError(t("limited", res.headers.get("Retry-After") || "60"));
    else if (res.status === 401 || res.status === 400) showError(t("bad"));
    else showError(t("failed"));
  } catch {
    showError(t("failed"));
  } finally {
    button.disabled = false;
    button.textContent = t("submit");
    document.querySelector("#password").value = "";
  }
}

document.querySelector("#login-form").addEventListener("submit", submit);
document.querySelector("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("pilotline.lang", lang);
  render();
});
render();
