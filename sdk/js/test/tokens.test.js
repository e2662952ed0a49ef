// Call tokens, the user's own sessions, and auth-token expiry and refresh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, flush, quiet, NOW } from "../test-support/fakes.js";

const KEY = "app-1:common_store/user";
const nowS = () => Math.floor(Date.now() / 1000);

test("generateToken: POST /v3.0/call_tokens {sessionId} with the session's token", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const tok = await s.sdk.generateToken("call-1");
  assert.deepEqual(tok, { token: "jwt.call-1", sessionId: "call-1", expiresAt: 1767229200 });
  const req = s.server.calls.at(-1);
  assert.equal(req.method, "POST");
  assert.equal(req.url, "http://127.0.0.1:8080/v3.0/call_tokens");
  assert.equal(req.headers.authToken, "tok-1");
  assert.equal(req.headers["Content-Type"], "application/json");
  assert.deepEqual(req.body, { sessionId: "call-1" });
});

test("generateToken with an explicit auth token (the v4 form) needs nobody logged in", async (t) => {
  const s = await start(t);
  const token = s.server.mint("cometchat-uid-2");
  assert.equal((await s.sdk.generateToken("call-2", token)).token, "jwt.call-2");
  assert.equal(s.server.calls[0].headers.authToken, token);
  await assert.rejects(s.sdk.generateToken("call-2", "tok-unknown"), { errorCode: "AUTH_ERR_AUTH_TOKEN_NOT_FOUND" });
  s.server.override["POST /v3.0/call_tokens"] = () => s.server.err(400, "ERR_BAD_REQUEST", "The request is invalid: sessionId", { sessionId: "no whitespace" });
  await assert.rejects(s.sdk.generateToken("a b", token), { errorCode: "ERR_BAD_REQUEST", details: { sessionId: "no whitespace" } });
});

test("listSessions, logoutSession, logoutOtherSessions: request shapes and answers", async (t) => {
  const s = await start(t);
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.server.override["GET /v3.0/me/sessions"] = () => s.server.ok([
    { id: "tok_aaaa", platform: "web", deviceId: "web-1", userAgent: "UA", createdAt: 1, lastUsedAt: 2, expiresAt: 0, current: true, connected: true },
    { id: "tok_bbbb", platform: "ios", deviceId: "d2", createdAt: 3, current: false, connected: false, extra: "ignored" },
  ]);
  s.server.override["DELETE /v3.0/me/sessions/tok_bbbb"] = () => s.server.ok({ success: true });
  s.server.override["DELETE /v3.0/me/sessions"] = () => s.server.ok({ revoked: 3 });
  assert.deepEqual(await s.sdk.listSessions(), [
    { id: "tok_aaaa", platform: "web", deviceId: "web-1", userAgent: "UA", createdAt: 1, lastUsedAt: 2, expiresAt: 0, current: true, connected: true },
    { id: "tok_bbbb", platform: "ios", deviceId: "d2", userAgent: "", createdAt: 3, lastUsedAt: 0, expiresAt: 0, current: false, connected: false },
  ]);
  assert.equal(await s.sdk.logoutSession("tok_bbbb"), undefined);
  assert.equal(await s.sdk.logoutOtherSessions(), 3);
  const calls = s.server.calls.slice(-3).map((c) => [c.method, c.url, c.headers.authToken, c.headers.appId, c.body]);
  assert.deepEqual(calls, [
    ["GET", "http://127.0.0.1:8080/v3.0/me/sessions", "tok-1", "app-1", undefined],
    ["DELETE", "http://127.0.0.1:8080/v3.0/me/sessions/tok_bbbb", "tok-1", "app-1", undefined],
    ["DELETE", "http://127.0.0.1:8080/v3.0/me/sessions", "tok-1", "app-1", undefined],
  ]);
  s.server.override["DELETE /v3.0/me/sessions/a%2Fb"] = () => s.server.ok({ success: true });
  await s.sdk.logoutSession("a/b");
  assert.equal(s.server.calls.at(-1).url, "http://127.0.0.1:8080/v3.0/me/sessions/a%2Fb");
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
});

test("without a tokenProvider: onAuthTokenWillExpire 60 s before, the session ends at expiry", async (t) => {
  const s = await start(t, { ttl: 3600 });
  const u = await s.sdk.login("cometchat-uid-1", "auth-key");
  const exp = nowS() + 3600;
  assert.equal(u.authTokenExpiresAt, exp);
  s.tick(3540_000 - 1);
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1"]);
  s.tick(1);
  assert.deepEqual(s.events, ["loginSuccess cometchat-uid-1", `willExpire ${exp}`]);
  s.tick(60_000);
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.deepEqual(s.events.slice(2), ["revoked token_expired"]);
  assert.equal(JSON.parse(s.storage.getItem(KEY)).revoked, "token_expired");
  // the server's own token_expired close that follows changes nothing
  s.WS.instances[0].drop(4001, "token_expired");
  assert.equal(s.events.length, 3);
});

test("a short lifetime warns at 90 %", async (t) => {
  const s = await start(t, { ttl: 100 });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(89_999);
  assert.equal(s.events.length, 1);
  s.tick(1);
  assert.match(s.events[1], /^willExpire /);
});

test("the lifetime comes from the token's creation second when the token shows it", async (t) => {
  const s = await start(t);
  // {uid}_{created}{64 hex}: created 300 s ago, expires in 100 s: lifetime 400 s, warn 40 s before
  const token = `cometchat-uid-1_${nowS() - 300}${"ab".repeat(32)}`;
  s.server.tokens.set(token, { uid: "cometchat-uid-1", expiresAt: nowS() + 100 });
  await s.sdk.loginWithAuthToken(token);
  s.tick(59_999);
  assert.equal(s.events.length, 1);
  s.tick(1);
  assert.match(s.events[1], /^willExpire /);
});

test("tokenProvider: the fresh token starts a session, realtime moves to it, the old one is logged out", async (t) => {
  let calls = 0;
  const s = await start(t, { ttl: 3600, tokenProvider: async () => { calls++; return s.server.mint("cometchat-uid-1"); } });
  s.WS.autoPong = true;
  await s.sdk.login("cometchat-uid-1", "auth-key");
  const ws1 = s.WS.last();
  ws1.receive({ type: "connected" });
  // in steps: a mocked tick moves the clock to its end before it runs the timers due
  for (let i = 0; i < 708; i++) s.tick(5000);
  await flush();
  assert.equal(calls, 1);
  assert.deepEqual(s.server.log().slice(2), ["PUT /v3.0/me tok-2", "DELETE /v3.0/me tok-1"]);
  const u = s.sdk.getLoggedInUser();
  assert.equal(u.authToken, "tok-2");
  assert.equal(u.authTokenExpiresAt, nowS() + 3600);
  assert.equal(JSON.parse(s.storage.getItem(KEY)).authToken, "tok-2");
  assert.match(s.WS.last().url, /authToken=tok-2/);
  assert.equal(ws1.closedWith.code, 1000);
  assert.equal(s.storage.getItem("app-1:common_store/refresh"), null, "the lock is released");
  assert.deepEqual(s.events.slice(1), ["connected", `willExpire ${nowS() + 60}`, "loginSuccess cometchat-uid-1"]);
  // the old session's expiry does not end the new one; the next refresh comes an hour later
  s.tick(60_000);
  assert.equal(s.sdk.getUserAuthToken(), "tok-2");
  s.tick(3480_000);
  await flush();
  assert.equal(calls, 2);
  assert.equal(s.sdk.getUserAuthToken(), "tok-3");
});

test("tokenProvider that fails: one call at a time, backoff, then the session ends at expiry", async (t) => {
  const warns = quiet(t);
  let calls = 0, release;
  const s = await start(t, { ttl: 3600, tokenProvider: () => { calls++; return new Promise((_, rej) => { release = rej; }); } });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(3540_000);
  assert.equal(calls, 1);
  s.tick(30_000); // the call hangs: no second call meanwhile
  assert.equal(calls, 1);
  release(new Error("backend down"));
  await flush();
  assert.equal(s.events.at(-1), "loginFailure ERROR_TOKEN_REFRESH_FAILED");
  // retries 1, 2, 4, 8 s apart, no jitter (one client, one token)
  for (const wait of [1000, 2000, 4000, 8000]) {
    s.tick(wait - 1);
    assert.equal(calls, calls); // nothing early
    const before = calls;
    s.tick(1);
    assert.equal(calls, before + 1, `retry after ${wait} ms`);
    release(new Error("still down"));
    await flush();
  }
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
  s.tick(15_000); // expiry: 3600 s after login; the next retry (16 s) would be past it
  await flush();
  assert.equal(calls, 5, "no retry is scheduled past the expiry");
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.events.at(-1), "revoked token_expired");
  assert.ok(warns.length >= 4);
});

test("tokenProvider returning the same token is an error, not a loop", async (t) => {
  quiet(t);
  let calls = 0;
  const s = await start(t, { ttl: 3600, tokenProvider: async () => { calls++; return "tok-1"; } });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(3540_000);
  await flush();
  assert.equal(calls, 1);
  assert.equal(s.events.at(-1), "loginFailure ERROR_TOKEN_REFRESH_FAILED");
  for (let i = 0; i < 60; i++) { s.tick(1000); await flush(1); }
  // retries 1, 2, 4, 8, 16 s apart (at +1, +3, +7, +15, +31 s); the next would pass the expiry
  assert.equal(calls, 6);
  assert.equal(s.server.log().filter((l) => l.startsWith("PUT")).length, 1, "the same token is never sent");
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.events.at(-1), "revoked token_expired");
});

test("tokenProvider returning a token the server rejects is an error, with backoff", async (t) => {
  quiet(t);
  let calls = 0;
  const s = await start(t, { ttl: 3600, tokenProvider: async () => { calls++; return "tok-forged"; } });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(3540_000);
  await flush();
  assert.equal(s.events.at(-1), "loginFailure AUTH_ERR_AUTH_TOKEN_NOT_FOUND");
  for (let i = 0; i < 60; i++) { s.tick(1000); await flush(1); }
  assert.equal(calls, 6);
  assert.equal(s.server.log().filter((l) => l === "PUT /v3.0/me tok-forged").length, 6);
  assert.equal(s.server.log().filter((l) => l.startsWith("DELETE")).length, 0, "the live token is never logged out");
  assert.equal(s.events.at(-1), "revoked token_expired");
});

test("a fresh token that expires no later than the current one is refused", async (t) => {
  quiet(t);
  const s = await start(t, { ttl: 3600, tokenProvider: async () => { s.server.ttl = 10; return s.server.mint("cometchat-uid-1"); } });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(3540_000);
  await flush();
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
  assert.equal(s.events.at(-1), "loginFailure ERROR_TOKEN_REFRESH_FAILED");
  assert.ok(s.server.log().includes("DELETE /v3.0/me tok-2"), "the refused token is revoked again");
});

test("a restored session past its warning time refreshes at once", async (t) => {
  const { memoryStorage } = await import("../test-support/fakes.js");
  const storage = memoryStorage();
  // created 3590 s ago, expires in 10 s: the warning (60 s before) is already due
  const old = `cometchat-uid-1_${NOW / 1000 - 3590}${"cd".repeat(32)}`;
  storage.setItem(KEY, JSON.stringify({ uid: "cometchat-uid-1", authToken: old, authTokenExpiresAt: NOW / 1000 + 10 }));
  let calls = 0;
  const s = await start(t, { storage, ttl: 3600, tokenProvider: async () => { calls++; return s.server.mint("cometchat-uid-1"); } });
  s.tick(0);
  await flush();
  assert.equal(calls, 1);
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
  assert.deepEqual(s.events, [`willExpire ${NOW / 1000 + 10}`, "loginSuccess cometchat-uid-1"]);
  s.tick(60_000);
  assert.equal(s.sdk.getUserAuthToken(), "tok-1");
});

test("a logout during a refresh wins: the fresh token is logged out, not adopted", async (t) => {
  let release;
  const s = await start(t, { ttl: 3600, tokenProvider: () => new Promise((r) => { release = r; }) });
  await s.sdk.login("cometchat-uid-1", "auth-key");
  s.tick(3540_000);
  await s.sdk.logout();
  release(s.server.mint("cometchat-uid-1"));
  await flush();
  assert.equal(s.sdk.getLoggedInUser(), null);
  assert.equal(s.storage.getItem(KEY), null);
  assert.ok(s.server.log().includes("DELETE /v3.0/me tok-2"));
});
