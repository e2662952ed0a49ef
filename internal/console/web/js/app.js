// The console's shell: sign-in, the header, the router and the event
// stream that keeps every screen live. The app ID and key live in this
// tab's sessionStorage only: never in a URL, a log or localStorage.

import { api, explain } from "./api.js";
import { connect } from "./events.js";
import { h, clear, field, notice, toast } from "./ui.js";

const STORE = "callgate-console";
const THEME = "callgate-console-theme";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const layout = document.querySelector(".layout");
const menuToggle = document.getElementById("menu-toggle");
const signOutBtn = document.getElementById("sign-out");
const appName = document.getElementById("app-name");
const live = document.getElementById("live");
const themeToggle = document.getElementById("theme-toggle");

const routes = [
  { re: /^\/users$/, load: () => import("./users.js"), title: "Users" },
  { re: /^\/users\/([^/?]+)$/, load: () => import("./user.js"), title: "User" },
  { re: /^\/keys$/, load: () => import("./keys.js"), title: "API keys" },
  { re: /^\/signing-keys$/, load: () => import("./signing.js"), title: "Signing keys" },
  { re: /^\/settings$/, load: () => import("./settings.js"), title: "App settings" },
  { re: /^\/audit$/, load: () => import("./audit.js"), title: "Audit log" },
  { re: /^\/try$/, load: () => import("./tryit.js"), title: "Try it" },
];

// ---- Session (this tab only)

function loadCreds() {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORE) || "null");
    return c && c.appId && c.apiKey ? c : null;
  } catch {
    return null;
  }
}

const state = {
  creds: null, // {appId, apiKey}
  client: null,
  app: null, // GET /app's data
  keyId: "", // the id of the key signed in with (from the event stream)
  stream: null,
  listeners: new Map(), // event name → Set of handlers
  scope: [], // the current screen's cleanups
  first: true,
};

// ---- Theme

function effectiveTheme() {
  const set = document.documentElement.getAttribute("data-theme");
  if (set) return set;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function showThemeToggle() {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  themeToggle.textContent = next === "dark" ? "Dark" : "Light";
  themeToggle.setAttribute("aria-label", `Switch to the ${next} theme`);
}

themeToggle.addEventListener("click", () => {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  document.documentElement.setAttribute("data-theme", next);
  try { localStorage.setItem(THEME, next); } catch { /* not kept: fine */ }
  showThemeToggle();
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", showThemeToggle);
showThemeToggle();

// ---- Narrow screens: the menu

menuToggle.addEventListener("click", () => {
  const open = menuToggle.getAttribute("aria-expanded") !== "true";
  menuToggle.setAttribute("aria-expanded", String(open));
  nav.classList.toggle("closed", !open);
  if (open) nav.querySelector("a").focus();
});

function closeMenu() {
  menuToggle.setAttribute("aria-expanded", "false");
  nav.classList.add("closed");
}

// ---- Events: the stream's events go to the current screen's handlers

function on(name, fn) {
  if (!state.listeners.has(name)) state.listeners.set(name, new Set());
  state.listeners.get(name).add(fn);
  const off = () => state.listeners.get(name).delete(fn);
  state.scope.push(off);
  return off;
}

function dispatch(name, data) {
  for (const fn of state.listeners.get(name) || []) {
    try { fn(data); } catch (e) { console.error(e); }
  }
  for (const fn of state.listeners.get("*") || []) {
    try { fn(name, data); } catch (e) { console.error(e); }
  }
}

function setLive(s) {
  live.hidden = false;
  live.className = "live " + (s === "live" ? "on" : s === "offline" ? "off" : "");
  live.textContent = s === "live" ? "Live" : s === "offline" ? "Offline, reconnecting…" : "Connecting…";
}

function startStream() {
  state.stream = connect(state.creds, {
    onState: setLive,
    onEvent: (name, data) => {
      if (name === "ready") state.keyId = data.keyId;
      dispatch(name, data);
    },
    onEnd: () => signOut("The key you signed in with was deleted or no longer has fullAccess. Sign in with another fullAccess key."),
  });
}

// ---- Sign-in and sign-out

async function signIn(creds) {
  const client = api(creds);
  const res = await client.get("/app"); // throws with the reason
  state.creds = creds;
  state.client = client;
  state.app = res.data;
  sessionStorage.setItem(STORE, JSON.stringify(creds));
  showSignedIn();
  startStream();
}

function showSignedIn() {
  layout.classList.remove("signed-out");
  nav.hidden = false;
  nav.classList.add("closed");
  menuToggle.hidden = false;
  signOutBtn.hidden = false;
  appName.hidden = false;
  clear(appName, h("strong", state.app.name), ` · ${state.app.appId} · ${state.app.region}`);
}

function signOut(message) {
  sessionStorage.removeItem(STORE);
  if (state.stream) state.stream.close();
  unmount();
  Object.assign(state, { creds: null, client: null, app: null, keyId: "", stream: null });
  layout.classList.add("signed-out");
  nav.hidden = true;
  menuToggle.hidden = true;
  signOutBtn.hidden = true;
  appName.hidden = true;
  live.hidden = true;
  renderSignIn(message);
}

signOutBtn.addEventListener("click", () => {
  signOut("");
  toast("Signed out. The key is forgotten.");
});

function renderSignIn(message, prefill = {}) {
  document.title = "Sign in · callgate console";
  const appId = h("input", { type: "text", name: "appId", autocomplete: "username", spellcheck: "false", autocapitalize: "none", required: true, value: prefill.appId || "" });
  const key = h("input", { type: "password", name: "apiKey", autocomplete: "current-password", spellcheck: "false", required: true });
  const show = h("input", { type: "checkbox", onchange: () => { key.type = show.checked ? "text" : "password"; } });
  const err = h("div", { tabindex: "-1" });
  const submit = h("button.primary", { type: "submit" }, "Sign in");
  const form = h("form", {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clear(err);
      const creds = { appId: appId.value.trim().toLowerCase(), apiKey: key.value.trim() };
      if (!creds.appId || !creds.apiKey) {
        clear(err, notice("error", "Enter the app ID and a fullAccess API key."));
        (creds.appId ? key : appId).focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = "Signing in…";
      try {
        await signIn(creds);
        state.first = false; // focus goes to the first screen's heading
        route();
      } catch (e2) {
        clear(err, notice("error", "Could not sign in", explain(e2)));
        err.focus();
      } finally {
        submit.disabled = false;
        submit.textContent = "Sign in";
      }
    },
  },
  field("App ID", appId),
  field("API key (fullAccess)", key, "A fullAccess key of this app: serve --dev prints one as “REST API key”."),
  h("label.check", show, "Show the key"),
  err,
  h("div.row", submit));
  clear(main, h("div.sign-in",
    h("div.card",
      h("h1", { tabindex: "-1" }, "Sign in to an app"),
      h("p.muted", `The console manages one app on this server, ${location.host}, through its REST API.`),
      message ? notice("warn", message) : null,
      form),
    h("p.muted.small", "The key is kept in this tab's session storage only: never in a URL or a log, and forgotten when you sign out or close the tab.")));
  (prefill.appId ? key : appId).focus();
  ready();
}

// ready marks the first screen drawn, for whoever measures (the tests).
function ready() {
  if (!performance.getEntriesByName("console-ready").length) performance.mark("console-ready");
}

// ---- Router

function unmount() {
  for (const off of state.scope.splice(0)) {
    try { off(); } catch (e) { console.error(e); }
  }
}

async function route() {
  if (!state.creds) return;
  const hash = location.hash.replace(/^#/, "") || "/users";
  const [path, query] = hash.split("?");
  let r = routes.find((x) => x.re.test(path));
  if (!r) {
    location.replace("#/users");
    return;
  }
  const params = path.match(r.re).slice(1).map(decodeURIComponent);
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === "#" + path || (path.startsWith("/users/") && a.getAttribute("href") === "#/users")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  closeMenu();
  unmount();
  const ctx = {
    main,
    api: state.client,
    creds: state.creds,
    get app() { return state.app; },
    set app(a) {
      state.app = a;
      clear(appName, h("strong", a.name), ` · ${a.appId} · ${a.region}`);
    },
    get keyId() { return state.keyId; },
    params,
    query: new URLSearchParams(query || ""),
    on,
    onCleanup: (fn) => state.scope.push(fn),
    setTitle: (t) => { document.title = `${t} · ${state.app.name} · callgate console`; },
    signOut,
  };
  ctx.setTitle(r.title);
  const token = {};
  state.routeToken = token;
  let mod;
  try {
    mod = await r.load();
  } catch (e) {
    clear(main, notice("error", "This screen could not be loaded.", "Reload the page; if the server was upgraded meanwhile, its new console is there."));
    return;
  }
  if (state.routeToken !== token) return; // navigated on meanwhile
  try {
    await mod.render(ctx);
  } catch (e) {
    console.error(e);
    clear(main, notice("error", "Something went wrong on this screen.", explain(e)));
  }
  if (state.routeToken !== token) return;
  ready();
  if (!state.first) {
    const h1 = main.querySelector("h1");
    if (h1) {
      h1.setAttribute("tabindex", "-1");
      h1.focus();
    }
  }
  state.first = false;
}

window.addEventListener("hashchange", route);

// ---- Start

(async () => {
  const creds = loadCreds();
  if (!creds) {
    signOut("");
    return;
  }
  try {
    await signIn(creds);
    route();
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      signOut(explain(e));
    } else {
      layout.classList.add("signed-out");
      clear(main, h("div.sign-in", h("div.card",
        h("h1", "The server did not answer"),
        notice("error", explain(e)),
        h("div.row",
          h("button.primary", { type: "button", onclick: () => location.reload() }, "Try again"),
          h("button", { type: "button", onclick: () => signOut("") }, "Sign out")))));
    }
  }
})();
