// Sign-in page: posts the credentials as JSON, keeps the CSRF token for the
// other pages, and returns to the page that sent the browser here.
import { t, getLang, setLang, other, applyLabels } from "./lib/i18n.js";
import { keepCSRF } from "./lib/api.js";
import { $ } from "./lib/dom.js";

function render() {
  applyLabels();
  $("#lang").textContent = t("toggle");
  document.title = `Pilotline · ${t("login.title")}`;
}

// next is where to go after signing in: a path on this site only. It is
// read the way the browser will read it (the URL parser drops tabs and
// newlines and takes "\\" for "/", so "/\t/host" is "//host"), and only a
// same-origin path is followed; anything else goes home.
function next() {
  const raw = new URLSearchParams(location.search).get("next") || "/";
  if (!raw.replace(/[\t\n\r]/g, "").startsWith("/")) return "/";
  let u;
  try { u = new URL(raw, location.origin); } catch { return "/"; }
  if (u.origin !== location.origin) return "/";
  // "/.//host" resolves to the path "//host", which is another origin again.
  return u.pathname.replace(/^\/+/, "/") + u.search + u.hash;
}

function showError(msg) {
  const e = $("#login-error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function submit(ev) {
  ev.preventDefault();
  const user = $("#user").value.trim();
  const password = $("#password").value;
  if (!user || !password) { showError(t("login.required")); return; }
  const button = $("#login-submit");
  button.disabled = true;
  button.textContent = t("login.busy");
  try {
    // Sign-in is the one call without a session yet: no CSRF token, and a
    // 401 is an answer to show, not a reason to come back here.
    const res = await fetch("/api/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, password }),
      credentials: "same-origin",
    });
    if (res.ok) {
      const info = await res.json();
      keepCSRF(info.csrf_token);
      sessionStorage.setItem("pilotline.user", JSON.stringify(info.user));
      location.replace(next());
      return;
    }
    if (res.status === 429) showError(t("login.limited", { s: res.headers.get("Retry-After") || "60" }));
    else if (res.status === 401 || res.status === 400) showError(t("login.bad"));
    else showError(t("login.failed"));
  } catch {
    showError(t("login.failed"));
  } finally {
    button.disabled = false;
    button.textContent = t("signIn");
    $("#password").value = "";
  }
}

$("#login-form").addEventListener("submit", submit);
$("#lang").addEventListener("click", () => { setLang(other()); render(); });
setLang(getLang());
render();
