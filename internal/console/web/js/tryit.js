// Try it: the seed's flow in this page with the JavaScript SDK this server
// serves (/sdk/calls.js) — init, login, getLoggedInUser, logout — showing
// every call and its answer.

import { explain, root, qs } from "./api.js";
import { h, clear, field, notice, toast } from "./ui.js";

// The SDK keeps its session here, not in this origin's localStorage.
function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

const show = (v) => JSON.stringify(v, (k, x) => (k === "authToken" && typeof x === "string" && x ? x.slice(0, 24) + "…" : x), 2);

export async function render(ctx) {
  const uid = h("input", { type: "text", value: "cometchat-uid-1", list: "try-users", autocomplete: "off", spellcheck: "false" });
  const users = h("datalist", { id: "try-users" });
  const how = ["token", "key"].map((v, i) => h("input", { type: "radio", name: "how", value: v, checked: i === 0 }));
  const authKey = h("input", { type: "password", autocomplete: "off", spellcheck: "false" });
  const keyField = field("authOnly API key", authKey, "Used only in this page, for this run; never stored.");
  keyField.hidden = true;
  for (const r of how) r.addEventListener("change", () => { keyField.hidden = how[1].checked === false; });
  const run = h("button.primary", { type: "submit" }, "Run the flow");
  const steps = h("ol.steps", { "aria-live": "polite" });
  const status = h("div", { tabindex: "-1" });
  const f = { uid: field("User (uid)", uid) };
  clear(ctx.main,
    h("div.page-head", h("div", h("h1", "Try it"),
      h("p", "The seed's flow, run in this page with the SDK at /sdk/calls.js: init, login, getLoggedInUser, logout."))),
    h("form.card", { novalidate: true, onsubmit: (e) => { e.preventDefault(); go(); } },
      f.uid, users,
      h("fieldset", h("legend", "Log in with"),
        h("label.check", how[0], "A token minted now with this console's key (loginWithAuthToken: production's way)"),
        h("label.check", how[1], "An authOnly key (login(uid, key): development's way)")),
      keyField,
      h("div.row", run)),
    status,
    h("h2", "Calls and answers"),
    steps);

  ctx.api.get("/users" + qs({ perPage: 100 })).then((r) => clear(users, r.data.map((u) => h("option", { value: u.uid }, u.name))), () => {});

  function step(call) {
    const out = h("pre.json", "…");
    const li = h("li", h("div.call", call), out);
    steps.append(li);
    return {
      ok: (v) => { out.className = "json ok"; out.textContent = "→ " + show(v); },
      fail: (e) => { out.className = "json fail"; out.textContent = `✗ ${e.errorCode || e.code || "Error"}: ${e.errorDescription || e.message}`; },
    };
  }

  async function go() {
    clear(steps);
    clear(status);
    const who = uid.value.trim();
    if (!who) {
      f.uid.setError("enter a uid");
      uid.focus();
      return;
    }
    f.uid.setError("");
    run.disabled = true;
    let sdk;
    try {
      sdk = (await import(new URL("sdk/calls.js", root).href)).CometChatCalls;
    } catch (e) {
      clear(status, notice("error", "The SDK could not be loaded from /sdk/calls.js.", String(e)));
      run.disabled = false;
      return;
    }
    const appId = ctx.creds.appId, region = ctx.app.region;
    try {
      let s = step(`CometChatCalls.init({ appId: "${appId}", region: "${region}" })`);
      try {
        s.ok(await sdk.init({ appId, region, storage: memoryStorage() }));
      } catch (e) { s.fail(e); throw e; }
      if (sdk.getLoggedInUser()) await sdk.logout().catch(() => {});
      let user;
      if (how[0].checked) {
        s = step(`POST /v3/users/${who}/auth_tokens   (the console, as your backend would)`);
        let token;
        try {
          const d = (await ctx.api.post(`/users/${encodeURIComponent(who)}/auth_tokens`, { platform: "web", deviceId: "console-try-it" })).data;
          token = d.authToken;
          s.ok({ id: d.id, uid: d.uid, authToken: token, createdAt: d.createdAt, expiresAt: d.expiresAt });
        } catch (e) { s.fail(e); throw e; }
        s = step(`CometChatCalls.loginWithAuthToken("${token.slice(0, 24)}…")`);
        try { user = await sdk.loginWithAuthToken(token); s.ok(user); } catch (e) { s.fail(e); throw e; }
      } else {
        const key = authKey.value.trim();
        s = step(`CometChatCalls.login("${who}", "${key ? key.slice(0, 4) + "…" : ""}")`);
        try { user = await sdk.login(who, key); s.ok(user); } catch (e) { s.fail(e); throw e; }
      }
      s = step("CometChatCalls.getLoggedInUser()");
      s.ok(sdk.getLoggedInUser());
      s = step("CometChatCalls.logout()");
      try { s.ok(await sdk.logout()); } catch (e) { s.fail(e); throw e; }
      clear(status, notice("ok", "The flow ran end to end.", `${user.name} (${user.uid}) logged in, then out: the session was revoked on the server.`));
    } catch (e) {
      const code = e.errorCode || e.code;
      if (code === "ERR_ORIGIN_NOT_ALLOWED") {
        clear(status, notice("warn", "This console's origin is not in the app's corsOrigins.",
          `The SDK's calls carry an authOnly key or an auth token, which the server accepts only from origins the app lists — this page's own, ${location.origin}, included.`),
        h("div.row", h("button.primary", { type: "button", onclick: allowOrigin }, `Allow ${location.origin}`)));
      } else {
        clear(status, notice("error", "The flow stopped.", explain({ code, message: e.errorDescription || e.message })));
      }
      status.focus();
    } finally {
      run.disabled = false;
    }
  }

  async function allowOrigin() {
    try {
      const cur = (await ctx.api.get("/app")).data.settings.corsOrigins;
      if (!cur.includes(location.origin)) {
        await ctx.api.put("/app", { settings: { corsOrigins: [...cur, location.origin] } });
      }
      toast(`${location.origin} may call the app now.`);
      clear(status, notice("ok", "Origin allowed.", "Run the flow again."));
      run.focus();
    } catch (e) {
      toast(explain(e), "error");
    }
  }
}
