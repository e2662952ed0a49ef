// callgate JS SDK: the CometChat Calls sign-in API for browsers and Node >= 20. One
// ES2020 module, no dependencies, no browser global touched at import time. Wire
// format: docs/api.md; realtime: docs/realtime.md; errors: docs/errors.md; the same
// semantics in Go: docs/sdk-go.md.

const VERSION = "0.1.0";
const LOGOUT_MESSAGE = "Logout successful";
const REST = "/v3", CLIENT = "/v3.0";
const NETWORK = "ERROR_NETWORK", NO_USER = "ERROR_NO_USER_LOGGED_IN", DEAD = "AUTH_ERR_AUTH_TOKEN_NOT_FOUND";
// In ms but WARN_BEFORE (s). SILENCE: no message for this long, reconnect.
const BACKOFF_MIN = 500, BACKOFF_MAX = 30000, PING_EVERY = 25000, SILENCE = 60000, WARN_BEFORE = 60;
const REFRESH_MIN = 1000, REFRESH_MAX = 30000, LOCK_TTL = 30000, TIMEOUT = 30000, CLEANUP_TIMEOUT = 10000;
const MAX_DELAY = 2147483647; // setTimeout's limit
const STORAGE_LAG = 500; // ms a tab waits for another tab's logout to reach its storage

/**
 * Every failure: `errorCode` is the SDK's (`ERROR_NETWORK`, …) or the server's (docs/errors.md),
 * `errorDescription` (also `message`) says what happened, `details` come from the server.
 */
export class CometChatCallsError extends Error {
  /** @param {string} code @param {string} [description] @param {Record<string, unknown>} [details] */
  constructor(code, description, details) {
    super(description || code);
    this.name = "CometChatCallsError";
    /** @type {string} */ this.errorCode = code;
    /** @type {string} */ this.errorDescription = description || code;
    /** @type {Record<string, unknown> | undefined} */ this.details = details;
  }
}

const fail = (code, description, details) => new CometChatCallsError(code, description, details);
const asError = (e) => e instanceof CometChatCallsError ? e : fail(NETWORK, String((e && e.message) || e));
const notInit = () => fail("ERROR_SDK_NOT_INITIALIZED", "Call CometChatCalls.init({appId, region}) first.");
const inProgress = () => fail("ERROR_LOGIN_IN_PROGRESS", "Wait until the previous login ends.");
const badSettings = (d) => fail("ERROR_INVALID_APP_SETTINGS", d);
const refreshFailed = (d) => fail("ERROR_TOKEN_REFRESH_FAILED", d);
const odd = (cfg, what, why) => fail(NETWORK, `Unexpected answer from ${cfg.host} to ${what} (${why})`);
const blank = (s) => typeof s !== "string" || !s.trim();
const show = (v) => String(JSON.stringify(v)).slice(0, 100);

// ---- state (one SDK per module) ----

const S = {
  cfg: null, // settings of the last good init
  user: null, // the session: a User with its authToken
  saved: false, // it is in storage (so, if storage is empty, another tab ended it)
  loggingIn: false,
  rt: null, // its realtime connection
  timers: [], // cancel functions of its timers
  refreshing: null, // the token refresh in flight
  refreshBackoff: REFRESH_MIN,
  window: null, // where the storage listener is
  login: new Map(), users: new Map(), conns: new Map(),
};
const TAB = randomHex(8); // this tab, for the refresh lock
let memoryStore = null;
let warned = false; // about a missing WebSocket

function randomHex(n) {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(n)), (x) => x.toString(16).padStart(2, "0")).join("");
}

// ---- settings ----

/** The v4 form: `new CallAppSettingsBuilder().setAppId(a).setRegion(r).setHost(h).build()` → settings for `init`. */
export class CallAppSettingsBuilder {
  constructor() { this.settings = {}; }
  set(k, v) { this.settings[k] = v; return this; }
  setAppId(v) { return this.set("appId", v); }
  setRegion(v) { return this.set("region", v); }
  /** e.g. `https://calls.example.com` (a trailing `/v3.0/` is fine) */
  setHost(v) { return this.set("host", v); }
  setTokenProvider(v) { return this.set("tokenProvider", v); }
  /** `all`, `none` or `roles:r1,r2` */
  setPresence(v) { return this.set("presence", v); }
  autoEstablishSocketConnection(v) { return this.set("autoEstablishSocketConnection", v); }
  build() { return { ...this.settings }; }
}

const validName = (s, max) => typeof s === "string" && s.length <= max && /^[a-z0-9-]+$/.test(s);

// The default host: the server that served this file (/sdk/calls.js, under any prefix).
function defaultHost() {
  try {
    const u = new URL(import.meta.url);
    if (u.protocol === "http:" || u.protocol === "https:") {
      const m = u.pathname.match(/^(.*)\/sdk\/calls\.js$/);
      return u.origin + (m ? m[1] : "");
    }
  } catch { /* no URL */ }
  return "";
}

// normalizeHost turns https://x/v3.0/ (the v4 SDK's form) and https://x/ into https://x.
function normalizeHost(h) {
  if (h === undefined || h === null || h === "") h = defaultHost();
  let u;
  try { u = new URL(String(h).trim()); } catch { u = null; }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.search || u.hash) {
    throw badSettings(h ? `host ${show(h)} is not an http(s) URL` : "host is required (this file was not served over http)");
  }
  return u.origin + u.pathname.replace(/\/+$/, "").replace(/\/v3(\.0)?$/, "").replace(/\/+$/, "");
}

function settingsOf(s) {
  if (!s || typeof s !== "object") throw badSettings("init needs {appId, region, host?}");
  const { appId, region } = s;
  if (!validName(appId, 64)) throw badSettings(`appId ${show(appId)} is invalid: 1 to 64 of a-z, 0-9 and -`);
  if (!validName(region, 32)) throw badSettings(`region ${show(region)} is invalid: 1 to 32 of a-z, 0-9 and - (us, eu, …)`);
  const presence = s.presence || "";
  if (presence && !/^(all|none|roles:[a-z0-9_-]+(,[a-z0-9_-]+)*)$/.test(str(presence))) throw badSettings(`presence ${show(presence)} is not all, none or roles:r1,r2`);
  for (const k of ["tokenProvider", "WebSocket", "fetch"]) {
    if (s[k] != null && typeof s[k] !== "function") throw badSettings(`${k} must be a function`);
  }
  const st = s.storage;
  if (st != null && !["getItem", "setItem", "removeItem"].every((m) => typeof st[m] === "function")) throw badSettings("storage must be like localStorage");
  return {
    appId, region, host: normalizeHost(s.host), presence,
    tokenProvider: s.tokenProvider || null, WebSocket: s.WebSocket || null, fetch: s.fetch || null,
    storage: st || defaultStorage(), realtime: s.autoEstablishSocketConnection !== false,
  };
}

function defaultStorage() {
  try {
    const ls = globalThis.localStorage;
    if (ls && typeof ls.getItem === "function") { ls.getItem("callgate:probe"); return ls; }
  } catch { /* blocked */ }
  if (!memoryStore) {
    const m = new Map();
    memoryStore = { getItem: (k) => m.has(k) ? m.get(k) : null, setItem: (k, v) => void m.set(k, String(v)), removeItem: (k) => void m.delete(k) };
  }
  return memoryStore;
}

// ---- storage ----

const userKey = (cfg) => cfg.appId + ":common_store/user";
const lockKey = (cfg) => cfg.appId + ":common_store/refresh";
const str = (v) => typeof v === "string" ? v : v == null ? "" : String(v);
const num = (v) => Number.isFinite(Number(v)) ? Number(v) : 0;
const copy = (v) => v == null ? v : JSON.parse(JSON.stringify(v));

function toUser(d, token) {
  const md = d.metadata;
  return {
    uid: str(d.uid), name: str(d.name), avatar: str(d.avatar), status: str(d.status),
    authToken: str(token === undefined ? d.authToken : token), link: str(d.link), role: str(d.role),
    metadata: md && typeof md === "object" && !Array.isArray(md) ? md : {},
    lastActiveAt: num(d.lastActiveAt), authTokenExpiresAt: num(d.authTokenExpiresAt),
  };
}

// The stored record: the user (with authToken), or {revoked: reason} for the other tabs.
function readRaw(cfg) {
  try { return JSON.parse(cfg.storage.getItem(userKey(cfg)) || "null"); } catch { return null; }
}

function readStored(cfg) {
  const u = readRaw(cfg);
  return u && typeof u === "object" && !blank(u.uid) && !blank(u.authToken) ? toUser(u) : null;
}

function save(cfg, u) {
  try { cfg.storage.setItem(userKey(cfg), JSON.stringify(u)); S.saved = true; } catch (err) {
    S.saved = false;
    console.warn("callgate: could not save the session", err);
  }
}

function deviceId(cfg) {
  const k = cfg.appId + ":common_store/deviceId";
  try {
    let id = cfg.storage.getItem(k);
    if (!id) cfg.storage.setItem(k, (id = "web-" + randomHex(8)));
    return id;
  } catch { return "web-" + TAB; }
}

function device(cfg) {
  const nav = globalThis.navigator;
  return { platform: "web", deviceId: deviceId(cfg), userAgent: (nav && nav.userAgent) || "callgate-js/" + VERSION };
}

// ---- HTTP ----

// api makes one call and returns its data; cred is [header, value]. The body counts, not the status.
async function api(cfg, method, path, cred, body, timeout = TIMEOUT) {
  const what = `${method} ${path}`;
  const headers = { appId: cfg.appId, [cred[0]]: cred[1], sdk: "callgate-js@" + VERSION, resource: "web", Accept: "application/json" };
  const req = { method, headers };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; req.body = JSON.stringify(body); }
  if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) req.signal = AbortSignal.timeout(timeout);
  let status, text;
  try {
    const f = cfg.fetch || globalThis.fetch;
    if (typeof f !== "function") throw new Error("no fetch; pass init({fetch})");
    const res = await f(cfg.host + path, req);
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw fail(NETWORK, `${what} to ${cfg.host} failed: ${(err && err.message) || err}`);
  }
  let env = null;
  try { env = JSON.parse(text); } catch { /* not JSON */ }
  const e = env && env.error;
  if (e && typeof e.code === "string" && e.code) {
    throw fail(e.code, e.message || `The server answered ${e.code} (HTTP ${status}).`, e.details && typeof e.details === "object" ? e.details : undefined);
  }
  if (!env || status < 200 || status > 299 || env.data == null) {
    throw odd(cfg, what, `HTTP ${status}: ${show(String(text).slice(0, 120))}; is host a callgate server?`);
  }
  return env.data;
}

const endSession = (cfg, token) => api(cfg, "DELETE", CLIENT + "/me", ["authToken", token], undefined, CLEANUP_TIMEOUT);

// startSession is PUT /me; with discard, a token it refused is revoked again (best effort).
async function startSession(cfg, token, discard) {
  let d;
  try {
    d = await api(cfg, "PUT", CLIENT + "/me", ["authToken", token], device(cfg));
  } catch (e) {
    if (discard && e.errorCode !== NETWORK && e.errorCode !== DEAD) await endSession(cfg, token).catch(() => {});
    throw e;
  }
  if (blank(d.uid)) throw odd(cfg, "PUT /me", "no uid");
  return toUser(d, token);
}

// ---- listeners ----

// fire calls name on every listener of map, in id order; one that throws is reported.
function fire(map, name, arg) {
  for (const id of [...map.keys()].sort()) {
    const l = map.get(id), f = l && l[name];
    if (typeof f !== "function") continue;
    try { f.call(l, arg && typeof arg === "object" && !(arg instanceof Error) ? copy(arg) : arg); } catch (err) {
      console.error(`callgate: listener "${id}" threw in ${name}`, err);
    }
  }
}

// ---- the session ----

function cancelTimers() { S.timers.splice(0).forEach((cancel) => cancel()); }

// at runs fn at the time ms, however far (setTimeout caps at 24.8 days); unref'd.
function at(ms, fn) {
  let h;
  const arm = () => {
    const d = ms - Date.now();
    h = setTimeout(d > MAX_DELAY ? arm : fn, Math.max(0, Math.min(d, MAX_DELAY)));
    if (h && typeof h.unref === "function") h.unref();
  };
  arm();
  return () => clearTimeout(h);
}

// sessionStarted opens realtime and arms the expiry timers.
function sessionStarted(cfg) {
  rtStart(cfg, S.user.authToken);
  schedule(cfg);
}

// endLocal drops the session and returns its realtime connection, detached but open.
// store: true removes it from storage, a reason stores {revoked: reason}, false nothing.
function endLocal(cfg, store) {
  S.user = null;
  cancelTimers();
  try {
    if (typeof store === "string") cfg.storage.setItem(userKey(cfg), JSON.stringify({ revoked: store }));
    else if (store) cfg.storage.removeItem(userKey(cfg));
  } catch (err) { console.error("callgate: could not clear the session", err); }
  return rtDetach();
}

// commit makes u the session; then the one it replaces is logged out on the server, and
// only then is its socket closed: the server takes it offline at once, no grace period.
async function commit(cfg, u) {
  const prev = S.user;
  save(cfg, u);
  S.user = u;
  S.refreshBackoff = REFRESH_MIN;
  const old = rtDetach();
  sessionStarted(cfg);
  if (prev && prev.authToken !== u.authToken) {
    try { await endSession(cfg, prev.authToken); } catch (e) {
      if (e.errorCode !== DEAD) console.warn(`callgate: could not log ${prev.uid}'s previous session out (${e.errorCode}); its auth token may still be live`);
    }
  }
  rtClose(old);
  return u;
}

// follow matches this tab to what another tab stored, with no network call but realtime.
function follow(cfg, stored) {
  const cur = S.user;
  if (!stored) {
    if (!cur) return;
    const raw = readRaw(cfg), why = raw && typeof raw.revoked === "string" ? raw.revoked : null;
    rtClose(endLocal(cfg, false));
    if (why === null) fire(S.login, "onLogoutSuccess");
    else fire(S.conns, "onSessionRevoked", why);
    return;
  }
  if (cur && cur.authToken === stored.authToken) return;
  S.user = stored;
  S.saved = true;
  S.refreshBackoff = REFRESH_MIN;
  sessionStarted(cfg);
  fire(S.login, "onLoginSuccess", stored);
}

function onStorage(e) {
  const cfg = S.cfg;
  if (!cfg || !e || (e.key !== null && e.key !== userKey(cfg)) || (e.storageArea && e.storageArea !== cfg.storage)) return;
  follow(cfg, readStored(cfg));
}

// revoked ends token's session (the server or expiry ended it) — unless another tab
// has already moved on (storage holds another session, or none): then it follows.
// A "logout" of this very token is another tab's logout when storage is shared, and
// its storage event can come after the server's notice (Chromium hands localStorage
// changes to other tabs asynchronously; a browser test saw the notice first): this
// tab waits up to STORAGE_LAG for it before calling the logout a revocation.
function revoked(token, reason, waited) {
  const cfg = S.cfg;
  if (!cfg || !S.user || S.user.authToken !== token) {
    if (S.rt && S.rt.token === token) rtClose(rtDetach());
    return;
  }
  const stored = readStored(cfg);
  if (stored ? stored.authToken !== token : S.saved) return follow(cfg, stored);
  if (reason === "logout" && stored && S.saved && !waited) {
    setTimeout(() => revoked(token, reason, true), STORAGE_LAG);
    return;
  }
  rtClose(endLocal(cfg, reason));
  fire(S.conns, "onSessionRevoked", reason);
}

// schedule arms onAuthTokenWillExpire (and a refresh) 60 s before expiry, at 90 % of a
// shorter lifetime, and the end of the session at expiry.
function schedule(cfg) {
  cancelTimers();
  const u = S.user, exp = u && u.authTokenExpiresAt;
  if (!exp) return;
  const token = u.authToken;
  const m = token.match(/_(\d{10})[0-9a-f]{64}$/); // {uid}_{created}{64 hex} (docs/api.md)
  const created = m ? Number(m[1]) : 0;
  const life = created && created < exp ? exp - created : exp - Date.now() / 1000;
  const lead = Math.max(0, Math.min(WARN_BEFORE, life / 10));
  S.timers.push(
    at((exp - lead) * 1000, () => {
      if (!S.user || S.user.authToken !== token) return;
      fire(S.login, "onAuthTokenWillExpire", exp);
      if (cfg.tokenProvider) refresh(cfg);
    }),
    at(exp * 1000, () => revoked(token, "token_expired")),
  );
}

// refresh moves the session to a token from the tokenProvider: one call at a time, by
// one tab (the holder of a lock in storage); the others follow the storage event.
function refresh(cfg) {
  if (!S.refreshing) S.refreshing = refreshOnce(cfg).finally(() => { S.refreshing = null; });
  return S.refreshing;
}

async function refreshOnce(cfg) {
  const u = S.user;
  if (!u || S.cfg !== cfg) return;
  const old = u.authToken;
  const retry = (e) => {
    if (e) {
      console.warn(`callgate: token refresh failed (${e.errorCode}: ${e.errorDescription})`);
      fire(S.login, "onLoginFailure", e);
    }
    const when = Date.now() + S.refreshBackoff;
    S.refreshBackoff = Math.min(S.refreshBackoff * 2, REFRESH_MAX);
    if (S.user && S.user.authToken === old && when < u.authTokenExpiresAt * 1000) S.timers.push(at(when, () => refresh(cfg)));
  };
  if (S.loggingIn || !takeLock(cfg)) return retry(); // a login, or another tab, is at it
  try {
    let t;
    try { t = await cfg.tokenProvider(); } catch (err) {
      throw refreshFailed(`tokenProvider failed: ${(err && err.message) || err}`);
    }
    if (blank(t) || /\s/.test(t)) throw refreshFailed(`tokenProvider returned ${show(t)}, not a token`);
    if (t === old) throw refreshFailed("tokenProvider returned the current token, not a new one");
    const fresh = await startSession(cfg, t, false);
    if (S.cfg !== cfg || !S.user || S.user.authToken !== old) { // the session changed
      await endSession(cfg, t).catch(() => {});
      return;
    }
    if (fresh.authTokenExpiresAt && fresh.authTokenExpiresAt <= u.authTokenExpiresAt) {
      await endSession(cfg, t).catch(() => {});
      throw refreshFailed("tokenProvider returned a token that expires no later than the current one");
    }
    await commit(cfg, fresh);
    fire(S.login, "onLoginSuccess", fresh);
  } catch (e) {
    retry(asError(e));
  } finally {
    releaseLock(cfg);
  }
}

function takeLock(cfg) {
  const k = lockKey(cfg), now = Date.now();
  try {
    const l = JSON.parse(cfg.storage.getItem(k) || "null");
    if (l && l.owner !== TAB && now - l.at < LOCK_TTL) return false;
    cfg.storage.setItem(k, JSON.stringify({ owner: TAB, at: now }));
    return JSON.parse(cfg.storage.getItem(k)).owner === TAB;
  } catch { return true; }
}

function releaseLock(cfg) {
  try {
    const l = JSON.parse(cfg.storage.getItem(lockKey(cfg)) || "null");
    if (l && l.owner === TAB) cfg.storage.removeItem(lockKey(cfg));
  } catch { /* none */ }
}

// ---- realtime (docs/realtime.md) ----

function rtStart(cfg, token) {
  rtClose(rtDetach());
  if (!cfg.realtime) return;
  const WS = cfg.WebSocket || globalThis.WebSocket;
  if (typeof WS !== "function") {
    if (!warned) console.warn("callgate: no WebSocket, so no realtime; pass init({WebSocket})");
    return void (warned = true);
  }
  S.rt = { cfg, token, WS, ws: null, timer: null, ping: null, backoff: BACKOFF_MIN, stopped: false, connected: false, reason: "" };
  rtConnect(S.rt);
}

// rtDetach stops following the connection (no events, no reconnect) but leaves it open.
function rtDetach() {
  const c = S.rt;
  S.rt = null;
  if (c) { c.stopped = true; clearTimeout(c.timer); clearInterval(c.ping); }
  return c;
}

function rtClose(c) {
  if (!c || !c.ws) return;
  try { c.ws.close(1000); } catch { /* closed */ }
  c.ws = null;
}

function presence(m) {
  if (!m || blank(m.uid)) return;
  const u = toUser(m, "");
  fire(S.users, u.status === "online" ? "onUserOnline" : "onUserOffline", u);
}

function rtConnect(c) {
  if (c.stopped) return;
  const q = new URLSearchParams({ appId: c.cfg.appId, authToken: c.token });
  if (c.cfg.presence) q.set("presence", c.cfg.presence);
  let ws;
  try { ws = new c.WS(c.cfg.host.replace(/^http/, "ws") + REST + "/ws?" + q); } catch { return rtRetry(c, false); }
  c.ws = ws;
  c.connected = false;
  c.reason = "";
  let last = Date.now();
  ws.onmessage = (ev) => {
    if (c.ws !== ws || c.stopped) return;
    last = Date.now();
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    if (!m || typeof m !== "object") return;
    if (m.type === "connected" && !c.connected) {
      c.connected = true;
      c.backoff = BACKOFF_MIN;
      fire(S.conns, "onConnected");
    } else if (m.type === "presence") presence(m);
    else if (m.type === "presence_batch" && Array.isArray(m.events)) m.events.forEach(presence);
    else if (m.type === "session_revoked") c.reason = str(m.reason);
  };
  ws.onerror = () => {}; // a close event follows
  ws.onclose = (ev) => rtDropped(c, ws, ev && ev.code, ev && ev.reason);
  c.ping = setInterval(() => {
    if (c.ws !== ws) return;
    if (Date.now() - last > SILENCE) {
      try { ws.close(4000, "silent"); } catch { /* gone */ }
      return rtDropped(c, ws, 4000, "");
    }
    try { if (ws.readyState === 1) ws.send('{"type":"ping"}'); } catch { /* onclose follows */ }
  }, PING_EVERY);
}

function rtDropped(c, ws, code, reason) {
  if (c.ws !== ws || c.stopped) return;
  clearInterval(c.ping);
  c.ws = null;
  const was = c.connected;
  c.connected = false;
  if (code === 4001) return revoked(c.token, c.reason || str(reason)); // never reconnect
  if (was) fire(S.conns, "onDisconnected");
  if (c.stopped) return; // a listener logged out
  if (code === 4029) {
    console.warn("callgate: realtime refused: too many connections for this user");
    c.backoff = BACKOFF_MAX;
  }
  rtRetry(c, !was);
}

// rtRetry reconnects after random() * backoff (full jitter; 0.5 s doubling to 30 s). A
// socket that never connected may have a dead token (browsers hide the 401): GET /me
// checks, and a dead token ends the session.
function rtRetry(c, check) {
  const delay = Math.random() * c.backoff;
  c.backoff = Math.min(c.backoff * 2, BACKOFF_MAX);
  c.timer = setTimeout(() => rtConnect(c), delay);
  if (check) {
    api(c.cfg, "GET", CLIENT + "/me", ["authToken", c.token]).catch((e) => {
      if (e.errorCode === DEAD && !c.stopped) revoked(c.token, "token_deleted");
    });
  }
}

// ---- the API ----

/**
 * Initialises the SDK and restores the session saved in localStorage
 * (`"{appId}:common_store/user"`) with its realtime connection. Rejects with
 * ERROR_INVALID_APP_SETTINGS for bad settings (nothing changes), ERROR_LOGIN_IN_PROGRESS
 * during a login.
 * @param {object} settings `{appId, region, host?, tokenProvider?, presence?, WebSocket?, storage?, fetch?, autoEstablishSocketConnection?}` or a CallAppSettingsBuilder's build()
 * @returns {Promise<{success: true, error: null}>}
 */
async function init(settings) {
  const cfg = settingsOf(settings);
  if (S.loggingIn) throw inProgress();
  const restored = readStored(cfg), old = S.cfg;
  if (old && S.user && restored && S.user.authToken === restored.authToken &&
      Object.keys(cfg).every((k) => cfg[k] === old[k])) {
    return { success: true, error: null }; // the same again (React strict mode)
  }
  const conn = rtDetach();
  cancelTimers();
  S.cfg = cfg;
  S.user = restored;
  S.saved = !!restored;
  S.refreshBackoff = REFRESH_MIN;
  rtClose(conn);
  const w = typeof window !== "undefined" ? window : null;
  if (w !== S.window) {
    if (S.window) S.window.removeEventListener("storage", onStorage);
    S.window = w && typeof w.addEventListener === "function" ? w : null;
    if (S.window) S.window.addEventListener("storage", onStorage);
  }
  if (restored) sessionStarted(cfg);
  return { success: true, error: null };
}

// attempt runs a login and reports its outcome to the login listeners.
async function attempt(run) {
  let u;
  try { u = await run(); } catch (e) {
    const err = asError(e);
    fire(S.login, "onLoginFailure", err);
    throw err;
  }
  fire(S.login, "onLoginSuccess", u);
  return copy(u);
}

async function exclusive(run) {
  S.loggingIn = true;
  try { return await run(); } finally { S.loggingIn = false; }
}

/**
 * Logs uid in with an API key (development). Checks, in order: ERROR_LOGIN_IN_PROGRESS,
 * ERROR_INVALID_UID, ERROR_UID_WITH_SPACE, ERROR_API_KEY_NOT_FOUND,
 * ERROR_SDK_NOT_INITIALIZED. The uid logged in already costs no network call; another
 * gets its session first, then the previous one is logged out. A failure changes nothing.
 * @param {string} uid
 * @param {string} apiKey an authOnly key
 * @returns {Promise<User>}
 */
function login(uid, apiKey) {
  return attempt(() => {
    if (S.loggingIn) throw inProgress();
    if (blank(uid)) throw fail("ERROR_INVALID_UID", "The UID cannot be empty.");
    if (/\s/.test(uid)) throw fail("ERROR_UID_WITH_SPACE", `The UID cannot contain spaces: ${show(uid)}.`);
    if (blank(apiKey)) throw fail("ERROR_API_KEY_NOT_FOUND", "Pass an authOnly API key of your app to login(uid, apiKey).");
    const cfg = S.cfg;
    if (!cfg) throw notInit();
    if (S.user && S.user.uid.toLowerCase() === uid.toLowerCase()) return S.user;
    return exclusive(async () => {
      const d = await api(cfg, "POST", `${REST}/users/${encodeURIComponent(uid)}/auth_tokens`, ["apiKey", apiKey.trim()], device(cfg));
      if (blank(d.authToken)) throw odd(cfg, "POST auth_tokens", "no authToken");
      return commit(cfg, await startSession(cfg, d.authToken, true));
    });
  });
}

/**
 * Logs in with an auth token your backend created. Checks, in order:
 * ERROR_LOGIN_IN_PROGRESS, ERROR_BLANK_AUTHTOKEN, ERROR_AUTHTOKEN_WITH_SPACE,
 * ERROR_SDK_NOT_INITIALIZED; otherwise as login.
 * @param {string} authToken
 * @returns {Promise<User>}
 */
function loginWithAuthToken(authToken) {
  return attempt(() => {
    if (S.loggingIn) throw inProgress();
    if (blank(authToken)) throw fail("ERROR_BLANK_AUTHTOKEN", "The auth token cannot be empty.");
    if (/\s/.test(authToken)) throw fail("ERROR_AUTHTOKEN_WITH_SPACE", "The auth token cannot contain spaces.");
    const cfg = S.cfg;
    if (!cfg) throw notInit();
    if (S.user && S.user.authToken === authToken) return S.user;
    return exclusive(async () => commit(cfg, await startSession(cfg, authToken, false)));
  });
}

// The three getters answer from memory, never from the network.
/** @returns {User | null} the logged-in user (a copy) */
function getLoggedInUser() { return S.user ? copy(S.user) : null; }
/** @returns {boolean} */
function isUserLoggedIn() { return !!S.user; }
/** @returns {string | null} the session's auth token */
function getUserAuthToken() { return S.user ? S.user.authToken : null; }

/**
 * Logs out: clears the session here (and in other tabs), revokes the token on the
 * server, then closes the realtime connection (no onSessionRevoked). Resolves even when
 * the server cannot be reached (with a console warning). Rejects with
 * ERROR_SDK_NOT_INITIALIZED or ERROR_NO_USER_LOGGED_IN.
 * @returns {Promise<"Logout successful">}
 */
async function logout() {
  try {
    const cfg = S.cfg;
    if (!cfg) throw notInit();
    const u = S.user;
    if (!u) throw fail(NO_USER, "Nobody is logged in.");
    const conn = endLocal(cfg, true);
    try { await endSession(cfg, u.authToken); } catch (e) {
      if (e.errorCode !== DEAD) console.warn(`callgate: logged out here, but the server did not confirm (${e.errorCode}); the auth token may still be live on the server`);
    }
    rtClose(conn);
  } catch (e) {
    fire(S.login, "onLogoutFailure", e);
    throw e;
  }
  fire(S.login, "onLogoutSuccess");
  return LOGOUT_MESSAGE;
}

/**
 * A call token for the call session sessionId, minted with authToken or the session's.
 * Checks, in order: ERROR_SESSION_ID_MISSING, ERROR_SDK_NOT_INITIALIZED,
 * ERROR_AUTH_TOKEN_MISSING.
 * @param {string} sessionId
 * @param {string} [authToken]
 * @returns {Promise<{token: string, sessionId: string, expiresAt: number}>}
 */
async function generateToken(sessionId, authToken) {
  if (blank(sessionId)) throw fail("ERROR_SESSION_ID_MISSING", "The session ID cannot be empty.");
  const cfg = S.cfg;
  if (!cfg) throw notInit();
  const token = !blank(authToken) ? authToken : S.user && S.user.authToken;
  if (!token) throw fail("ERROR_AUTH_TOKEN_MISSING", "Nobody is logged in and no auth token was given.");
  const d = await api(cfg, "POST", CLIENT + "/call_tokens", ["authToken", token], { sessionId });
  if (blank(d.token)) throw odd(cfg, "POST /call_tokens", "no token");
  return { token: d.token, sessionId: str(d.sessionId) || sessionId, expiresAt: num(d.expiresAt) };
}

function mine() {
  const cfg = S.cfg;
  if (!cfg) throw notInit();
  if (!S.user) throw fail(NO_USER, "Nobody is logged in.");
  return [cfg, ["authToken", S.user.authToken]];
}

/**
 * The logged-in user's sessions. Rejects with ERROR_SDK_NOT_INITIALIZED or
 * ERROR_NO_USER_LOGGED_IN (so do the two below).
 * @returns {Promise<Session[]>}
 */
async function listSessions() {
  const [cfg, cred] = mine();
  const d = await api(cfg, "GET", CLIENT + "/me/sessions", cred);
  if (!Array.isArray(d)) throw odd(cfg, "GET /me/sessions", "not a list");
  return d.map((s) => ({
    id: str(s.id), platform: str(s.platform), deviceId: str(s.deviceId), userAgent: str(s.userAgent),
    createdAt: num(s.createdAt), lastUsedAt: num(s.lastUsedAt), expiresAt: num(s.expiresAt),
    current: !!s.current, connected: !!s.connected,
  }));
}

/**
 * Revokes one of the user's sessions (a blank id: ERROR_SESSION_ID_MISSING). Revoking
 * the current one ends this session through onSessionRevoked.
 * @param {string} id from listSessions()
 * @returns {Promise<void>}
 */
async function logoutSession(id) {
  if (blank(id)) throw fail("ERROR_SESSION_ID_MISSING", "The session id cannot be empty.");
  const [cfg, cred] = mine();
  await api(cfg, "DELETE", CLIENT + "/me/sessions/" + encodeURIComponent(id), cred);
}

/** Revokes every session of the user but this one. @returns {Promise<number>} how many */
async function logoutOtherSessions() {
  const [cfg, cred] = mine();
  return num((await api(cfg, "DELETE", CLIENT + "/me/sessions", cred)).revoked);
}

const adder = (map) => (id, listener) => { map.set(String(id), listener); };
const remover = (map) => (id) => { map.delete(String(id)); };

/**
 * The SDK. Listeners are added and removed by id (an id added again is replaced), run
 * in id order, and one that throws affects nothing else. Types: calls.d.ts.
 * @typedef {import("./calls.d.ts").User} User
 * @typedef {import("./calls.d.ts").Session} Session
 */
export const CometChatCalls = Object.freeze({
  init, login, loginWithAuthToken, getLoggedInUser, isUserLoggedIn, getUserAuthToken, logout,
  generateToken, listSessions, logoutSession, logoutOtherSessions,
  /** `(id, {onLoginSuccess, onLoginFailure, onLogoutSuccess, onLogoutFailure, onAuthTokenWillExpire})` */
  addLoginListener: adder(S.login), removeLoginListener: remover(S.login),
  /** `(id, {onUserOnline, onUserOffline})`: presence of the app's other users */
  addUserListener: adder(S.users), removeUserListener: remover(S.users),
  /** `(id, {onConnected, onDisconnected, onSessionRevoked})` */
  addConnectionListener: adder(S.conns), removeConnectionListener: remover(S.conns),
  CallAppSettingsBuilder, CometChatCallsError, VERSION,
});

export default CometChatCalls;
