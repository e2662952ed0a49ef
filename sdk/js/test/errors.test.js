// Error codes, their check order (the Go SDK's, docs/sdk-go.md) and the error object.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freshSDK, start, flush, fakeServer, memoryStorage, record } from "../test-support/fakes.js";

const code = async (p) => {
  try { await p; } catch (e) { return e.errorCode; }
  return "resolved";
};

test("login checks: in flight, uid, space, key, initialised — in that order", async (t) => {
  const { sdk } = await freshSDK().then((m) => ({ sdk: m.CometChatCalls }));
  // not initialised comes last: every earlier check wins over it
  assert.equal(await code(sdk.login("", "")), "ERROR_INVALID_UID");
  assert.equal(await code(sdk.login("   ", "")), "ERROR_INVALID_UID");
  assert.equal(await code(sdk.login(undefined, "k")), "ERROR_INVALID_UID");
  assert.equal(await code(sdk.login("a b", "")), "ERROR_UID_WITH_SPACE");
  assert.equal(await code(sdk.login("a\tb", "k")), "ERROR_UID_WITH_SPACE");
  assert.equal(await code(sdk.login("cometchat-uid-1", "")), "ERROR_API_KEY_NOT_FOUND");
  assert.equal(await code(sdk.login("cometchat-uid-1", "  ")), "ERROR_API_KEY_NOT_FOUND");
  assert.equal(await code(sdk.login("cometchat-uid-1", "auth-key")), "ERROR_SDK_NOT_INITIALIZED");

  // a login in flight wins over everything
  const s = await start(t);
  let release;
  s.server.override["PUT /v3.0/me"] = () => new Promise((r) => { release = r; });
  const first = s.sdk.login("cometchat-uid-1", "auth-key");
  assert.equal(await code(s.sdk.login("", "")), "ERROR_LOGIN_IN_PROGRESS");
  assert.equal(await code(s.sdk.loginWithAuthToken("")), "ERROR_LOGIN_IN_PROGRESS");
  await assert.rejects(s.sdk.init({ appId: "app-1", region: "us", host: "http://h" }), { errorCode: "ERROR_LOGIN_IN_PROGRESS" });
  await flush();
  release(s.server.ok({ uid: "cometchat-uid-1", name: "Andrew Joseph", authTokenExpiresAt: 0 }));
  assert.equal((await first).uid, "cometchat-uid-1");
  assert.deepEqual(s.events, ["loginFailure ERROR_LOGIN_IN_PROGRESS", "loginFailure ERROR_LOGIN_IN_PROGRESS", "loginSuccess cometchat-uid-1"]);
});

test("loginWithAuthToken checks: in flight, blank, space, initialised", async () => {
  const sdk = (await freshSDK()).CometChatCalls;
  assert.equal(await code(sdk.loginWithAuthToken("")), "ERROR_BLANK_AUTHTOKEN");
  assert.equal(await code(sdk.loginWithAuthToken(" \n")), "ERROR_BLANK_AUTHTOKEN");
  assert.equal(await code(sdk.loginWithAuthToken(null)), "ERROR_BLANK_AUTHTOKEN");
  assert.equal(await code(sdk.loginWithAuthToken("tok 1")), "ERROR_AUTHTOKEN_WITH_SPACE");
  assert.equal(await code(sdk.loginWithAuthToken("tok-1")), "ERROR_SDK_NOT_INITIALIZED");
});

test("generateToken checks: session id, initialised, auth token", async (t) => {
  const sdk = (await freshSDK()).CometChatCalls;
  assert.equal(await code(sdk.generateToken("")), "ERROR_SESSION_ID_MISSING");
  assert.equal(await code(sdk.generateToken("  ", "tok-1")), "ERROR_SESSION_ID_MISSING");
  assert.equal(await code(sdk.generateToken("call-1")), "ERROR_SDK_NOT_INITIALIZED");
  assert.equal(await code(sdk.generateToken("call-1", "tok-1")), "ERROR_SDK_NOT_INITIALIZED");
  const s = await start(t);
  assert.equal(await code(s.sdk.generateToken("call-1")), "ERROR_AUTH_TOKEN_MISSING");
  assert.equal(await code(s.sdk.generateToken("call-1", " ")), "ERROR_AUTH_TOKEN_MISSING");
  assert.equal(s.server.calls.length, 0);
});

test("logout and the session calls: initialised, then somebody logged in", async (t) => {
  const sdk = (await freshSDK()).CometChatCalls;
  for (const f of [() => sdk.logout(), () => sdk.listSessions(), () => sdk.logoutSession("s1"), () => sdk.logoutOtherSessions()]) {
    assert.equal(await code(f()), "ERROR_SDK_NOT_INITIALIZED");
  }
  assert.equal(await code(sdk.logoutSession("")), "ERROR_SESSION_ID_MISSING");
  const s = await start(t);
  for (const f of [() => s.sdk.logout(), () => s.sdk.listSessions(), () => s.sdk.logoutSession("s1"), () => s.sdk.logoutOtherSessions()]) {
    assert.equal(await code(f()), "ERROR_NO_USER_LOGGED_IN");
  }
  assert.deepEqual(s.events, ["logoutFailure ERROR_NO_USER_LOGGED_IN"]);
  assert.equal(s.server.calls.length, 0);
});

test("init rejects bad settings with ERROR_INVALID_APP_SETTINGS and keeps the old ones", async () => {
  const first = await freshSDK(), sdk = first.CometChatCalls;
  const bad = [
    undefined, null, "app-1",
    { region: "us", host: "http://h" },
    { appId: "App-1", region: "us", host: "http://h" },
    { appId: "a".repeat(65), region: "us", host: "http://h" },
    { appId: "app-1", host: "http://h" },
    { appId: "app-1", region: "US", host: "http://h" },
    { appId: "app-1", region: "us" }, // this file is served from file:, so there is no default host
    { appId: "app-1", region: "us", host: "ftp://h" },
    { appId: "app-1", region: "us", host: "not a url" },
    { appId: "app-1", region: "us", host: "http://h/?x=1" },
    { appId: "app-1", region: "us", host: "http://h", presence: "some" },
    { appId: "app-1", region: "us", host: "http://h", tokenProvider: "tok" },
    { appId: "app-1", region: "us", host: "http://h", WebSocket: {} },
    { appId: "app-1", region: "us", host: "http://h", storage: {} },
  ];
  for (const s of bad) {
    await assert.rejects(sdk.init(s), (e) => {
      assert.ok(e instanceof first.CometChatCallsError);
      assert.equal(e.errorCode, "ERROR_INVALID_APP_SETTINGS", JSON.stringify(s));
      return true;
    });
  }
  const mod = await freshSDK();
  const server = fakeServer();
  const storage = memoryStorage();
  await mod.CometChatCalls.init({ appId: "app-1", region: "us", host: "http://127.0.0.1:8080", fetch: server.fetch, storage, autoEstablishSocketConnection: false });
  await assert.rejects(mod.CometChatCalls.init({ appId: "BAD", region: "us" }), { errorCode: "ERROR_INVALID_APP_SETTINGS" });
  await mod.CometChatCalls.login("cometchat-uid-1", "auth-key"); // still initialised with the good settings
  assert.equal(server.calls[0].url, "http://127.0.0.1:8080/v3/users/cometchat-uid-1/auth_tokens");
});

test("server errors pass through with code, message and details", async (t) => {
  const s = await start(t);
  await assert.rejects(s.sdk.login("nobody", "auth-key"), (e) => {
    assert.ok(e instanceof Error);
    assert.ok(e instanceof s.mod.CometChatCallsError);
    assert.equal(e.name, "CometChatCallsError");
    assert.equal(e.errorCode, "ERR_UID_NOT_FOUND");
    assert.equal(e.errorDescription, "The UID nobody does not exist, please make sure you have created a user with UID nobody.");
    assert.equal(e.message, e.errorDescription);
    return true;
  });
  s.server.override["POST /v3/users/bad!/auth_tokens"] = () => s.server.err(400, "ERR_BAD_REQUEST", "The request is invalid: uid", { uid: "only a-z, 0-9, _ and -" });
  await assert.rejects(s.sdk.login("bad!", "auth-key"), { errorCode: "ERR_BAD_REQUEST", details: { uid: "only a-z, 0-9, _ and -" } });
  await assert.rejects(s.sdk.login("cometchat-uid-1", "wrong"), { errorCode: "AUTH_ERR_APIKEY_NOT_FOUND" });
  assert.deepEqual(s.events, ["loginFailure ERR_UID_NOT_FOUND", "loginFailure ERR_BAD_REQUEST", "loginFailure AUTH_ERR_APIKEY_NOT_FOUND"]);
});

test("transport failures and foreign answers are ERROR_NETWORK", async (t) => {
  const s = await start(t);
  s.server.override["POST /v3/users/cometchat-uid-1/auth_tokens"] = () => { throw new TypeError("fetch failed"); };
  await assert.rejects(s.sdk.login("cometchat-uid-1", "auth-key"), (e) => e.errorCode === "ERROR_NETWORK" && /fetch failed/.test(e.message));
  s.server.override["POST /v3/users/cometchat-uid-1/auth_tokens"] = () => ({ status: 502, body: "<html>Bad gateway</html>" });
  await assert.rejects(s.sdk.login("cometchat-uid-1", "auth-key"), (e) => e.errorCode === "ERROR_NETWORK" && /HTTP 502/.test(e.message));
  s.server.override["POST /v3/users/cometchat-uid-1/auth_tokens"] = () => ({ status: 200, body: { ok: true } });
  await assert.rejects(s.sdk.login("cometchat-uid-1", "auth-key"), { errorCode: "ERROR_NETWORK" });
  assert.equal(s.sdk.getLoggedInUser(), null);
});

test("the error class", async () => {
  const { CometChatCallsError, CometChatCalls } = await freshSDK();
  const e = new CometChatCallsError("ERROR_X", "what happened", { f: 1 });
  assert.equal(e.message, "what happened");
  assert.equal(e.errorCode, "ERROR_X");
  assert.equal(e.errorDescription, "what happened");
  assert.deepEqual(e.details, { f: 1 });
  assert.equal(new CometChatCallsError("ERROR_Y").details, undefined);
  assert.equal(CometChatCalls.CometChatCallsError, CometChatCallsError);
});

test("onLoginFailure fires for local checks too, with the error that rejected", async () => {
  const sdk = (await freshSDK()).CometChatCalls;
  const events = record(sdk);
  const seen = [];
  sdk.addLoginListener("z", { onLoginFailure: (e) => seen.push(e) });
  const errs = [];
  for (const p of [sdk.login("", "k"), sdk.login("a b", "k"), sdk.login("u", ""), sdk.login("u", "k"), sdk.loginWithAuthToken(""), sdk.loginWithAuthToken("a b"), sdk.loginWithAuthToken("t")]) {
    errs.push(await p.catch((e) => e));
  }
  assert.deepEqual(events, [
    "loginFailure ERROR_INVALID_UID", "loginFailure ERROR_UID_WITH_SPACE", "loginFailure ERROR_API_KEY_NOT_FOUND", "loginFailure ERROR_SDK_NOT_INITIALIZED",
    "loginFailure ERROR_BLANK_AUTHTOKEN", "loginFailure ERROR_AUTHTOKEN_WITH_SPACE", "loginFailure ERROR_SDK_NOT_INITIALIZED",
  ]);
  assert.deepEqual(seen, errs);
  await sdk.logout().catch(() => {});
  assert.equal(events.at(-1), "logoutFailure ERROR_SDK_NOT_INITIALIZED");
});
