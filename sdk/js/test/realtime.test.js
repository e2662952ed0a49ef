// The realtime connection (docs/realtime.md): URL, connected, presence, revocation,
// reconnects with backoff and jitter, pings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, flush, quiet, memoryStorage } from "../test-support/fakes.js";

const KEY = "app-1:common_store/user";

test("connects to {ws host}/v3/ws with appId, authToken and presence", async (t) => {
  const s = await start(t, { presence: "roles:admin,agent" });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const url = new URL(s.WS.last().url);
  assert.equal(url.origin + url.pathname, "ws://127.0.0.1:8080/v3/ws");
  assert.deepEqual(Object.fromEntries(url.searchParams), { appId: "app-1", authToken: "tok-1", presence: "roles:admin,agent" });

  const p = await start(t, { host: "https://calls.example.com/prefix/v3.0/" });
  await p.sdk.loginWithAuthToken(p.server.mint("cometchat-uid-2"));
  assert.equal(p.WS.last().url, "wss://calls.example.com/prefix/v3/ws?appId=app-1&authToken=tok-1");
});

test("no realtime with autoEstablishSocketConnection: false", async (t) => {
  const s = await start(t, { autoEstablishSocketConnection: false });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  assert.equal(s.WS.instances.length, 0);
});

test("onConnected fires only when the connected message arrives", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
  ws.onopen && ws.onopen({});
  ws.receive({ type: "pong" });
  ws.receive("not json");
  ws.receive({ type: "something-new", x: 1 });
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "connected"]);
});

test("presence and presence_batch fire the user listeners with User objects", async (t) => {
  const s = await start(t);
  const users = [];
  s.sdk.addUserListener("u", { onUserOnline: (u) => users.push(u) , onUserOffline: (u) => users.push(u) });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  ws.receive({ type: "presence", uid: "cometchat-uid-2", status: "online", lastActiveAt: 1767225600 });
  ws.receive({ type: "presence_batch", events: [
    { uid: "cometchat-uid-3", status: "online", lastActiveAt: 1767225601 },
    { uid: "cometchat-uid-2", status: "offline", lastActiveAt: 1767225660 },
    { status: "online" }, // no uid: ignored
  ] });
  assert.deepEqual(s.events.slice(2), ["online cometchat-uid-2", "online cometchat-uid-3", "offline cometchat-uid-2"]);
  assert.deepEqual(users[2], {
    uid: "cometchat-uid-2", name: "", avatar: "", status: "offline", authToken: "", link: "", role: "",
    metadata: {}, lastActiveAt: 1767225660, authTokenExpiresAt: 0,
  });
  s.sdk.removeUserListener("u");
  s.sdk.removeUserListener("rec");
  ws.receive({ type: "presence", uid: "cometchat-uid-2", status: "online", lastActiveAt: 1767225700 });
  assert.equal(users.length, 3);
});

test("session_revoked then close 4001: session cleared, onSessionRevoked(reason), no reconnect", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  const calls = s.server.calls.length;
  ws.receive({ type: "session_revoked", reason: "token_deleted" });
  ws.drop(4001, "token_deleted");
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.sdk.getUserAuthToken(), null);
  assert.equal(JSON.parse(s.storage.getItem(KEY)).revoked, "token_deleted"); // no session for the next load
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "connected", "revoked token_deleted"]);
  s.tick(10 * 60_000);
  await flush();
  assert.equal(s.WS.instances.length, 1, "never reconnects after 4001");
  assert.equal(s.server.calls.length, calls, "no network call");
  await assert.rejects(s.sdk.logout(), { errorCode: "ERROR_NO_USER_LOGGED_IN" });
});

test("close 4001 without a session_revoked message takes the close reason", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().drop(4001, "user_deactivated");
  assert.deepEqual(s.events.at(-1), "revoked user_deactivated");
});

test("other closes: onDisconnected, then reconnects with full-jitter exponential backoff", async (t) => {
  const s = await start(t);
  t.mock.method(Math, "random", () => 0.5);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  let ws = s.WS.last();
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  ws.drop(1001, "going away");
  assert.deepEqual(s.events.slice(1), ["connected", "disconnected"]);
  // backoff 0.5 s doubling to 30 s; the wait is random() * backoff
  const waits = [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000];
  for (const [i, wait] of waits.entries()) {
    const n = s.WS.instances.length;
    s.tick(wait - 1);
    assert.equal(s.WS.instances.length, n, `attempt ${i + 1} not before ${wait} ms`);
    s.tick(1);
    assert.equal(s.WS.instances.length, n + 1, `attempt ${i + 1} after ${wait} ms`);
    s.WS.last().drop(1006); // fails before connected: no onDisconnected
    await flush();
  }
  assert.deepEqual(s.events.slice(1), ["connected", "disconnected"]);
  // a socket that never connected makes the SDK check its token (GET /me): still live
  assert.equal(s.server.log().filter((l) => l === "GET /v3.0/me tok-1").length, waits.length);
  // connected again: the backoff starts over
  s.tick(15000);
  ws = s.WS.last();
  ws.receive({ type: "connected" });
  ws.drop(1006);
  const n = s.WS.instances.length;
  s.tick(250);
  assert.equal(s.WS.instances.length, n + 1);
  assert.deepEqual(s.events.slice(1), ["connected", "disconnected", "connected", "disconnected"]);
});

test("the jitter is full: the wait spans [0, backoff)", async (t) => {
  const s = await start(t);
  t.mock.method(Math, "random", () => 0);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().drop(1006);
  s.tick(0);
  assert.equal(s.WS.instances.length, 2);
  Math.random.mock.mockImplementation(() => 0.999);
  s.WS.last().drop(1006);
  s.tick(998);
  assert.equal(s.WS.instances.length, 2);
  s.tick(1);
  assert.equal(s.WS.instances.length, 3);
});

test("a dead token found while reconnecting ends the session (token_deleted)", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().receive({ type: "connected" });
  s.WS.last().drop(1006);
  s.tick(30_000);
  s.server.tokens.delete("tok-1"); // deleted while we were away
  s.WS.last().drop(1006); // a browser sees only a failed socket, not the 401
  await flush();
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.deepEqual(s.events.slice(-1), ["revoked token_deleted"]);
  const n = s.WS.instances.length;
  s.tick(60_000);
  assert.equal(s.WS.instances.length, n);
});

test("4029 (too many connections) waits the longest backoff", async (t) => {
  const s = await start(t);
  const warns = quiet(t);
  t.mock.method(Math, "random", () => 0.5);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().drop(4029, "too many connections (10)");
  s.tick(14_999);
  assert.equal(s.WS.instances.length, 1);
  s.tick(1);
  assert.equal(s.WS.instances.length, 2);
  assert.match(warns[0], /too many connections/);
});

test("pings every 25 s; a silent connection is dropped and replaced", async (t) => {
  const s = await start(t);
  t.mock.method(Math, "random", () => 0);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  ws.receive({ type: "connected" });
  s.tick(25_000);
  assert.deepEqual(ws.sent, ['{"type":"ping"}']);
  ws.receive({ type: "pong" });
  s.tick(25_000);
  s.tick(25_000);
  assert.equal(ws.sent.length, 3);
  // 75 s after the last message (the pong at 25 s), i.e. silent for more than 60 s
  s.tick(25_000);
  assert.equal(ws.closedWith.code, 4000);
  assert.deepEqual(s.events.slice(1), ["connected", "disconnected"]);
  s.tick(0);
  assert.equal(s.WS.instances.length, 2);
});

test("logout stops reconnecting", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().drop(1006);
  await s.sdk.logout();
  s.tick(60_000);
  await flush();
  assert.equal(s.WS.instances.length, 1);
});

test("a listener may log out from onDisconnected", async (t) => {
  const s = await start(t);
  s.sdk.addConnectionListener("x", { onDisconnected: () => { s.sdk.logout(); } });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.WS.last().receive({ type: "connected" });
  s.WS.last().drop(1006);
  await flush();
  s.tick(60_000);
  assert.equal(s.WS.instances.length, 1);
  assert.equal(s.sdk.getLoggedInUser(), null);
});

test("restored sessions connect too; a restored dead token ends at the first failed connect", async (t) => {
  const storage = memoryStorage();
  storage.setItem(KEY, JSON.stringify({ uid: "cometchat-uid-1", authToken: "tok-gone" }));
  const s = await start(t, { storage });
  assert.equal(s.WS.instances.length, 1);
  s.WS.last().drop(1006);
  await flush();
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.deepEqual(s.events, ["revoked token_deleted"]);
});
