// The sign-in flow: init and restore, login, switching users, failed logins, logout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freshSDK, start, flush, quiet, memoryStorage, fakeServer, fakeWebSocket, openTab } from "../test-support/fakes.js";

const KEY = "app-1:common_store/user";

test("init resolves {success: true, error: null}; plain settings and the v4 builder", async () => {
  const sdk = (await freshSDK()).CometChatCalls;
  const settings = new sdk.CallAppSettingsBuilder().setAppId("app-1").setRegion("us").setHost("https://calls.example.com/v3.0/").build();
  assert.deepEqual(settings, { appId: "app-1", region: "us", host: "https://calls.example.com/v3.0/" });
  assert.deepEqual(await sdk.init({ ...settings, storage: memoryStorage() }), { success: true, error: null });
});

test("the host may carry /v3/ or /v3.0/ and a path prefix", async () => {
  for (const [host, want] of [
    ["https://calls.example.com/v3.0/", "https://calls.example.com"],
    ["https://calls.example.com/v3/", "https://calls.example.com"],
    ["https://calls.example.com/v3", "https://calls.example.com"],
    ["https://calls.example.com/", "https://calls.example.com"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["https://example.com/callgate/v3.0/", "https://example.com/callgate"],
  ]) {
    const sdk = (await freshSDK()).CometChatCalls;
    const server = fakeServer();
    await sdk.init({ appId: "app-1", region: "us", host, fetch: server.fetch, storage: memoryStorage(), autoEstablishSocketConnection: false });
    await sdk.login("cometchat-uid-1", "auth-key");
    assert.equal(server.calls[0].url, want + "/v3/users/cometchat-uid-1/auth_tokens", host);
    assert.equal(server.calls[1].url, want + "/v3.0/me", host);
  }
});

test("login: POST /v3/users/{uid}/auth_tokens, then PUT /v3.0/me; the session is saved", async (t) => {
  const s = await start(t);
  const user = await s.sdk.login("cometchat-uid-1", "auth-key");
  const [create, put] = s.server.calls;
  assert.equal(create.method, "POST");
  assert.equal(create.url, "http://127.0.0.1:8080/v3/users/cometchat-uid-1/auth_tokens");
  assert.equal(create.headers.appId, "app-1");
  assert.equal(create.headers.apiKey, "auth-key");
  assert.equal(create.headers["Content-Type"], "application/json");
  assert.equal(create.body.platform, "web");
  assert.match(create.body.deviceId, /^web-[0-9a-f]{16}$/);
  assert.equal(typeof create.body.userAgent, "string");
  assert.equal(put.method, "PUT");
  assert.equal(put.url, "http://127.0.0.1:8080/v3.0/me");
  assert.equal(put.headers.authToken, "tok-1");
  assert.equal(put.headers.appId, "app-1");
  assert.deepEqual(put.body, create.body);
  assert.deepEqual(user, {
    uid: "cometchat-uid-1", name: "Andrew Joseph", avatar: "", status: "online", authToken: "tok-1", link: "", role: "default",
    metadata: {}, lastActiveAt: Math.floor(Date.now() / 1000), authTokenExpiresAt: 0,
  });
  assert.deepEqual(JSON.parse(s.storage.getItem(KEY)), user);
  assert.deepEqual(s.sdk.getLoggedInUser(), user);
  assert.equal(s.sdk.isUserLoggedIn(), true);
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
  // copies: changing what the SDK returned changes nothing inside it
  user.name = "x";
  s.sdk.getLoggedInUser().metadata.x = 1;
  assert.equal(s.sdk.getLoggedInUser().name, "Andrew Joseph");
  assert.deepEqual(s.sdk.getLoggedInUser().metadata, {});
});

test("before init and after logout the getters say nobody, without a network call", async () => {
  const sdk = (await freshSDK()).CometChatCalls;
  assert.equal(sdk.getLoggedInUser(), null);
  assert.equal(sdk.isUserLoggedIn(), false);
  assert.equal(sdk.getUserAuthToken(), null);
});

test("login as the uid already logged in makes no network call", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const before = s.server.calls.length;
  const again = await s.sdk.login("Cometchat-UID-1", "another-key");
  assert.equal(again.authToken, "tok-1");
  const viaToken = await s.sdk.loginWithAuthToken("tok-1");
  assert.equal(viaToken.uid, "cometchat-uid-1");
  assert.equal(s.server.calls.length, before);
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "loginSuccess cometchat-uid-1", "loginSuccess cometchat-uid-1"]);
});

test("login as another uid: the new session first, then the old token is logged out", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws1 = s.WS.last();
  await s.sdk.login("cometchat-uid-2", "auth-key");
  assert.deepEqual(s.server.log(), [
    "POST /v3/users/cometchat-uid-1/auth_tokens auth-key", "PUT /v3.0/me tok-1",
    "POST /v3/users/cometchat-uid-2/auth_tokens auth-key", "PUT /v3.0/me tok-2", "DELETE /v3.0/me tok-1",
  ]);
  assert.equal(s.sdk.getUserAuthToken(), "tok-2");
  assert.equal(JSON.parse(s.storage.getItem(KEY)).uid, "cometchat-uid-2");
  assert.ok(!s.server.tokens.has("tok-1"));
  assert.equal(ws1.closedWith.code, 1000); // the old socket closed after the DELETE
  assert.match(s.WS.last().url, /authToken=tok-2/);
  assert.ok(!s.events.includes("revoked"));
});

test("the old token's logout failing does not fail the switch", async (t) => {
  const s = await start(t);
  const warns = quiet(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.server.override["DELETE /v3.0/me"] = () => { throw new TypeError("fetch failed"); };
  const u = await s.sdk.login("cometchat-uid-2", "auth-key");
  assert.equal(u.uid, "cometchat-uid-2");
  assert.equal(warns.length, 1);
  assert.match(warns[0], /may still be live/);
});

test("a failed login leaves the previous session as it was", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const saved = s.storage.getItem(KEY), ws = s.WS.last();
  await assert.rejects(s.sdk.login("nobody", "auth-key"), { errorCode: "ERR_UID_NOT_FOUND" });
  s.server.override["PUT /v3.0/me"] = () => s.server.err(503, "ERR_SERVICE_UNAVAILABLE", "The service is temporarily unavailable, please retry.");
  await assert.rejects(s.sdk.login("cometchat-uid-2", "auth-key"), { errorCode: "ERR_SERVICE_UNAVAILABLE" });
  await assert.rejects(s.sdk.loginWithAuthToken("tok-99"), { errorCode: "ERR_SERVICE_UNAVAILABLE" });
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
  assert.equal(s.storage.getItem(KEY), saved);
  assert.equal(s.WS.last(), ws);
  assert.equal(ws.closedWith, null);
  assert.ok(s.server.tokens.has("tok-1"));
  // the token minted for the failed login was revoked again, never the session's own
  assert.ok(s.server.log().includes("DELETE /v3.0/me tok-2"));
  assert.ok(!s.server.log().includes("DELETE /v3.0/me tok-1"));
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "loginFailure ERR_UID_NOT_FOUND", "loginFailure ERR_SERVICE_UNAVAILABLE", "loginFailure ERR_SERVICE_UNAVAILABLE"]);
});

test("a failed first login leaves no session behind", async (t) => {
  const s = await start(t);
  await assert.rejects(s.sdk.loginWithAuthToken("tok-unknown"), { errorCode: "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" });
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.storage.getItem(KEY), null);
  assert.equal(s.WS.instances.length, 0);
});

test("loginWithAuthToken: PUT /v3.0/me with the token", async (t) => {
  const s = await start(t);
  const token = s.server.mint("cometchat-uid-3");
  const u = await s.sdk.loginWithAuthToken(token);
  assert.equal(u.uid, "cometchat-uid-3");
  assert.equal(u.authToken, token);
  assert.deepEqual(s.server.log(), [`PUT /v3.0/me ${token}`]);
});

test("logout: DELETE /v3.0/me, then the socket closes; no onSessionRevoked", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  ws.receive({ type: "connected", uid: "cometchat-uid-1" });
  let closedAtDelete = null;
  s.server.override["DELETE /v3.0/me"] = (req) => {
    closedAtDelete = ws.closedWith;
    assert.equal(s.sdk.getLoggedInUser(), null); // already cleared locally
    // the server revokes the token and tells this socket so, before the SDK closes it
    ws.receive({ type: "session_revoked", reason: "logout" });
    ws.drop(4001, "logout");
    return s.server.ok({ success: true, message: "Logout successful", uid: "cometchat-uid-1" });
  };
  assert.equal(await s.sdk.logout(), "Logout successful");
  assert.equal(closedAtDelete, null, "the socket was still open when DELETE /me was sent");
  assert.equal(s.server.log().at(-1), "DELETE /v3.0/me tok-1");
  assert.equal(s.storage.getItem(KEY), null);
  assert.equal(s.sdk.getLoggedInUser(), null);
  t.mock.timers.tick(120_000);
  assert.equal(s.WS.instances.length, 1, "no reconnect");
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "connected", "logoutSuccess"]);
});

test("logout closes the socket after the server answered", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  await s.sdk.logout();
  assert.equal(ws.closedWith.code, 1000);
  assert.ok(!s.server.tokens.has("tok-1"));
});

test("logout always clears locally, even when the server cannot be reached", async (t) => {
  const s = await start(t);
  const warns = quiet(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.server.override["DELETE /v3.0/me"] = () => { throw new TypeError("fetch failed"); };
  assert.equal(await s.sdk.logout(), "Logout successful");
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.storage.getItem(KEY), null);
  assert.equal(s.WS.last().closedWith.code, 1000);
  assert.equal(warns.length, 1);
  assert.match(warns[0], /may still be live on the server/);
  assert.deepEqual(s.events.slice(1), ["logoutSuccess"]);
  // a token the server already forgot is no warning
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.server.tokens.clear();
  delete s.server.override["DELETE /v3.0/me"];
  await s.sdk.logout();
  assert.equal(warns.length, 1);
});

test("two logouts at once: one succeeds, the other finds nobody", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const results = await Promise.allSettled([s.sdk.logout(), s.sdk.logout()]);
  assert.equal(results[0].value, "Logout successful");
  assert.equal(results[1].reason.errorCode, "ERROR_NO_USER_LOGGED_IN");
});

test("init restores the session from localStorage and connects for it", async (t) => {
  const storage = memoryStorage();
  const saved = { uid: "cometchat-uid-1", name: "Andrew Joseph", authToken: "tok-7", status: "online" };
  storage.setItem(KEY, JSON.stringify(saved));
  const s = await start(t, { storage });
  assert.equal(s.server.calls.length, 0);
  const u = s.sdk.getLoggedInUser();
  assert.equal(u.uid, "cometchat-uid-1");
  assert.equal(u.authToken, "tok-7");
  assert.equal(u.avatar, "");
  assert.equal(u.lastActiveAt, 0);
  assert.equal(s.WS.instances.length, 1);
  assert.match(s.WS.last().url, /authToken=tok-7/);
  // same settings again (React strict mode): the connection stays
  await s.sdk.init({ appId: "app-1", region: "us", host: "http://127.0.0.1:8080", fetch: s.server.fetch, storage, WebSocket: s.WS });
  assert.equal(s.WS.instances.length, 1);
  assert.equal(s.WS.last().closedWith, null);
  // a record without token or uid is no session
  for (const bad of ['{"uid":"x"}', '{"authToken":"t"}', "not json", '{"revoked":"logout"}']) {
    const st = memoryStorage();
    st.setItem(KEY, bad);
    const sdk = (await freshSDK()).CometChatCalls;
    await sdk.init({ appId: "app-1", region: "us", host: "http://h", storage: st, autoEstablishSocketConnection: false });
    assert.equal(sdk.getLoggedInUser(), null, bad);
  }
});

test("init with another app takes that app's session and drops this one's connection", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws = s.WS.last();
  s.storage.setItem("app-2:common_store/user", JSON.stringify({ uid: "u9", authToken: "tok-app2" }));
  await s.sdk.init({ appId: "app-2", region: "eu", host: "http://127.0.0.1:8080", fetch: s.server.fetch, storage: s.storage, WebSocket: s.WS });
  assert.equal(s.sdk.getUserAuthToken(), "tok-app2");
  assert.equal(ws.closedWith.code, 1000);
  assert.match(s.WS.last().url, /appId=app-2&authToken=tok-app2/);
  assert.ok(s.storage.getItem(KEY), "app-1's session stays saved");
  assert.ok(!s.events.includes("revoked") && !s.events.includes("logoutSuccess"));
});

test("a listener that throws breaks neither the SDK nor the other listeners", async (t) => {
  const s = await start(t);
  const errors = quiet(t, "error");
  for (const id of ["a", "c"]) {
    s.sdk.addLoginListener(id, { onLoginSuccess() { throw new Error("boom " + id); }, onLogoutSuccess() { throw new Error("boom"); } });
  }
  const u = await s.sdk.login("cometchat-uid-1", "auth-key");
  assert.equal(u.uid, "cometchat-uid-1");
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
  assert.equal(errors.length, 2);
  assert.equal(await s.sdk.logout(), "Logout successful");
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", "logoutSuccess"]);
});

test("listeners run in id order, are replaced by id and removed by id", async (t) => {
  const s = await start(t);
  const order = [];
  s.sdk.addLoginListener("b", { onLoginSuccess: () => order.push("b") });
  s.sdk.addLoginListener("a", { onLoginSuccess: () => order.push("a") });
  s.sdk.addLoginListener("c", { onLoginSuccess: () => order.push("c1") });
  s.sdk.addLoginListener("c", { onLoginSuccess: () => order.push("c2") });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  assert.deepEqual(order, ["a", "b", "c2"]);
  s.sdk.removeLoginListener("a");
  s.sdk.removeLoginListener("rec");
  await s.sdk.login("cometchat-uid-1", "auth-key");
  assert.deepEqual(order, ["a", "b", "c2", "b", "c2"]);
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
});

test("without localStorage (Node, SSR) the session lives in memory", async () => {
  assert.equal(typeof globalThis.localStorage, "undefined");
  const server = fakeServer();
  const a = (await freshSDK()).CometChatCalls;
  await a.init({ appId: "app-1", region: "us", host: "http://h", fetch: server.fetch, autoEstablishSocketConnection: false });
  await a.login("cometchat-uid-1", "auth-key");
  assert.equal(a.getUserAuthToken(), "tok-1");
  await a.logout();
  assert.equal(a.getLoggedInUser(), null);
});

test("the JS SDK reports presence changes and revocation only with a WebSocket", async (t) => {
  const warns = quiet(t);
  const server = fakeServer();
  const sdk = (await freshSDK()).CometChatCalls;
  await sdk.init({ appId: "app-1", region: "us", host: "http://h", fetch: server.fetch, storage: memoryStorage() });
  await sdk.login("cometchat-uid-1", "auth-key"); // Node 20 has no WebSocket: a warning, no failure
  assert.equal(sdk.isUserLoggedIn(), true);
  assert.equal(warns.length, 1);
  assert.match(warns[0], /WebSocket/);
  await sdk.logout();
});

test("a tab's own window gets the storage listener (openTab sanity)", async (t) => {
  const server = fakeServer();
  const tab = { window: new EventTarget(), storage: memoryStorage() };
  const { sdk } = await openTab(tab, server, { WebSocket: fakeWebSocket() });
  await sdk.login("cometchat-uid-1", "auth-key");
  tab.storage.removeItem(KEY);
  tab.window.dispatchEvent(Object.assign(new Event("storage"), { key: KEY, newValue: null, storageArea: tab.storage }));
  await flush();
  assert.equal(sdk.getLoggedInUser(), null);
  assert.equal(typeof globalThis.window, "undefined");
});
