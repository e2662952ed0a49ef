// Fakes for the SDK's tests: a callgate server behind a fake fetch, a fake WebSocket,
// and browser tabs sharing one localStorage (with storage events between them).
// Outside test/ so that `node --test test/` does not run it as a test file.

let loads = 0;

/** A fresh copy of the SDK module (its own state), as a new page load would get. */
export async function freshSDK() {
  return import(`../calls.js?load=${++loads}`);
}

export const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z, the mocked clock's start

/** Mocked timers and clock for one test (Node's test runner undoes them after it). */
export function useClock(t) {
  try {
    t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: NOW });
  } catch { /* already enabled for this test */ }
  return (ms) => t.mock.timers.tick(ms);
}

/** Lets pending promise chains (fetch, listeners) run. */
export async function flush(rounds = 5) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A console method replaced by a recorder for one test. */
export function quiet(t, method = "warn") {
  const seen = [];
  t.mock.method(console, method, (...args) => seen.push(args.map(String).join(" ")));
  return seen;
}

/**
 * A callgate server in memory, reached through server.fetch. It knows users
 * cometchat-uid-1..3 and the API key "auth-key"; tokens are tok-1, tok-2, …
 * server.override["PUT /v3.0/me"] = (req) => answer replaces a route; an answer is
 * {status, body}, a thrown error is a transport failure, a promise that never settles
 * hangs. server.calls records every request.
 */
export function fakeServer({ ttl = 0 } = {}) {
  const names = { "cometchat-uid-1": "Andrew Joseph", "cometchat-uid-2": "George Alan", "cometchat-uid-3": "Nancy Grace" };
  const tokens = new Map(); // token -> {uid, expiresAt}
  let n = 0;
  const server = { calls: [], override: {}, tokens, ttl };
  const ok = (data) => ({ status: 200, body: { data } });
  const err = (status, code, message, details = {}) => ({ status, body: { error: { code, message, devMessage: "…", source: "callgate", details } } });
  server.ok = ok;
  server.err = err;
  server.mint = (uid) => {
    const token = `tok-${++n}`;
    tokens.set(token, { uid, expiresAt: server.ttl ? Math.floor(Date.now() / 1000) + server.ttl : 0 });
    return token;
  };
  const user = (uid, token) => ({
    uid, name: names[uid], avatar: "", status: "online", role: "default", lastActiveAt: Math.floor(Date.now() / 1000),
    authToken: token, authTokenExpiresAt: tokens.get(token).expiresAt,
  });
  const route = (req) => {
    const key = `${req.method} ${req.path}`;
    if (server.override[key]) return server.override[key](req);
    const tok = req.headers.authToken, live = tokens.get(tok);
    let m;
    if (req.method === "POST" && (m = req.path.match(/^\/v3\/users\/([^/]+)\/auth_tokens$/))) {
      if (req.headers.apiKey !== "auth-key") return err(401, "AUTH_ERR_APIKEY_NOT_FOUND", "The apiKey is invalid for the appId app-1.");
      const uid = decodeURIComponent(m[1]).toLowerCase();
      if (!names[uid]) return err(404, "ERR_UID_NOT_FOUND", `The UID ${uid} does not exist, please make sure you have created a user with UID ${uid}.`);
      const token = server.mint(uid);
      return ok({ uid, authToken: token, createdAt: Math.floor(Date.now() / 1000) });
    }
    if (!req.path.startsWith("/v3.0/")) return err(404, "ERR_ENDPOINT_NOT_FOUND", "The API endpoint is invalid. Please verify the API call.");
    if (!live) return err(401, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "The auth token is invalid or has expired.");
    switch (key) {
      case "PUT /v3.0/me": case "GET /v3.0/me": return ok(user(live.uid, tok));
      case "DELETE /v3.0/me": tokens.delete(tok); return ok({ success: true, message: "Logout successful", uid: live.uid });
      case "POST /v3.0/call_tokens": return ok({ token: "jwt." + req.body.sessionId, sessionId: req.body.sessionId, expiresAt: 1767229200 });
      default: return err(404, "ERR_ENDPOINT_NOT_FOUND", "The API endpoint is invalid. Please verify the API call.");
    }
  };
  server.fetch = async (url, init) => {
    const u = new URL(url);
    const req = { method: init.method, url, path: u.pathname.replace(/^.*?(?=\/v3(\.0)?\/)/, ""), headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) };
    server.calls.push(req);
    const a = await route(req);
    return { status: a.status, text: async () => typeof a.body === "string" ? a.body : JSON.stringify(a.body) };
  };
  /** The calls made so far as "METHOD path token-or-key", for order checks. */
  server.log = () => server.calls.map((c) => `${c.method} ${c.path} ${c.headers.authToken || c.headers.apiKey || ""}`.trim());
  return server;
}

/** A WebSocket class that records its instances; the test plays the server. */
export function fakeWebSocket() {
  class FakeWebSocket {
    static instances = [];
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 1;
      this.closedWith = null;
      FakeWebSocket.instances.push(this);
    }
    send(data) {
      this.sent.push(data);
      if (FakeWebSocket.autoPong && data === '{"type":"ping"}') this.receive({ type: "pong" });
    }
    close(code, reason) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.closedWith = { code, reason };
      queueMicrotask(() => this.onclose && this.onclose({ code: code || 1005, reason: reason || "" }));
    }
    // the server's side
    receive(msg) { this.onmessage && this.onmessage({ data: typeof msg === "string" ? msg : JSON.stringify(msg) }); }
    drop(code = 1006, reason = "") {
      this.readyState = 3;
      this.onclose && this.onclose({ code, reason });
    }
    get open() { return this.readyState === 1; }
  }
  FakeWebSocket.last = () => FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  return FakeWebSocket;
}

/** A Storage over a Map. */
export function memoryStorage(data = new Map()) {
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => { data.set(k, String(v)); },
    removeItem: (k) => { data.delete(k); },
  };
}

/**
 * Browser tabs of one origin: one localStorage whose writes reach the other tabs'
 * windows as storage events (asynchronously, as in a browser; await flush()).
 */
export function browser() {
  const data = new Map();
  const tabs = [];
  // held: changes not yet delivered to the other tabs. Chromium hands a localStorage
  // change to other tabs asynchronously, and until it arrives they still read the old
  // value; hold() opens that window for as long as a test needs, release() closes it.
  let held = null;
  const notify = (from, key, oldValue, newValue) => {
    for (const t of tabs) {
      if (t.storage === from) continue;
      const e = Object.assign(new Event("storage"), { key, oldValue, newValue, storageArea: t.storage });
      if (!held) {
        setImmediate(() => t.window.dispatchEvent(e));
        continue;
      }
      if (!t.stale.has(key)) t.stale.set(key, oldValue);
      held.push(() => { t.stale.delete(key); t.window.dispatchEvent(e); });
    }
  };
  return {
    data,
    hold() { held = held || []; },
    release() { const q = held || []; held = null; for (const go of q) go(); },
    /** A new tab: {window, storage}. */
    tab() {
      const stale = new Map(); // key → the value this tab still reads, while held
      const read = (k) => (stale.has(k) ? stale.get(k) : data.has(k) ? data.get(k) : null);
      const storage = {
        getItem: read,
        setItem: (k, v) => {
          const old = read(k);
          data.set(k, String(v));
          stale.delete(k);
          notify(storage, k, old, String(v));
        },
        removeItem: (k) => {
          const old = read(k);
          if (old === null) return;
          data.delete(k);
          stale.delete(k);
          notify(storage, k, old, null);
        },
      };
      const t = { window: new EventTarget(), storage, stale };
      tabs.push(t);
      return t;
    },
  };
}

/**
 * Loads a fresh SDK as tab (its window is globalThis.window while init runs, as in a
 * page) and initialises it against server.
 */
export async function openTab(tab, server, settings = {}) {
  const mod = await freshSDK();
  const WS = settings.WebSocket || fakeWebSocket();
  const had = Object.getOwnPropertyDescriptor(globalThis, "window");
  if (tab.window) globalThis.window = tab.window;
  try {
    await mod.CometChatCalls.init({ appId: "app-1", region: "us", host: "http://127.0.0.1:8080", fetch: server.fetch, storage: tab.storage, WebSocket: WS, ...settings });
  } finally {
    if (had) Object.defineProperty(globalThis, "window", had);
    else delete globalThis.window;
  }
  return { sdk: mod.CometChatCalls, WS, mod };
}

/** Records every callback of every listener kind under events, as "name arg". */
export function record(sdk, id = "rec") {
  const events = [];
  const log = (name) => (arg) => events.push(arg === undefined ? name : `${name} ${typeof arg === "object" ? (arg.errorCode || arg.uid) : arg}`);
  sdk.addLoginListener(id, { onLoginSuccess: log("loginSuccess"), onLoginFailure: log("loginFailure"), onLogoutSuccess: log("logoutSuccess"), onLogoutFailure: log("logoutFailure"), onAuthTokenWillExpire: log("willExpire") });
  sdk.addUserListener(id, { onUserOnline: log("online"), onUserOffline: log("offline") });
  sdk.addConnectionListener(id, { onConnected: log("connected"), onDisconnected: log("disconnected"), onSessionRevoked: log("revoked") });
  return events;
}

/**
 * One page with mocked timers: {sdk, server, WS, storage, tick, events}. opts are init
 * settings plus ttl (the server's token lifetime in seconds).
 */
export async function start(t, { ttl = 0, ...settings } = {}) {
  const tick = useClock(t);
  const server = fakeServer({ ttl });
  const storage = settings.storage || memoryStorage();
  const { sdk, WS, mod } = await openTab({ storage }, server, settings);
  return { sdk, mod, server, WS, storage, tick, events: record(sdk) };
}
