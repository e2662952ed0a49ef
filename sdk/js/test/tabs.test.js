// Tabs of one browser share the session through localStorage and follow each other
// through the storage event, without network calls of their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { browser, fakeServer, openTab, record, useClock, flush, quiet } from "../test-support/fakes.js";

const KEY = "app-1:common_store/user";

// two tabs of one browser against one server; each tab's requests are counted apart
async function twoTabs(t, settings = {}, { ttl = 0 } = {}) {
  const tick = useClock(t);
  const server = fakeServer({ ttl });
  const b = browser();
  const tabs = [];
  for (const name of ["A", "B"]) {
    const calls = [];
    const fetch = (url, init) => { calls.push(`${init.method} ${new URL(url).pathname}`); return server.fetch(url, init); };
    const extra = typeof settings === "function" ? settings(name) : settings;
    const tab = b.tab();
    const { sdk, WS } = await openTab(tab, server, { fetch, ...extra });
    tabs.push({ sdk, WS, calls, tab, events: record(sdk) });
  }
  return { server, b, tick, A: tabs[0], B: tabs[1] };
}

test("a login in one tab logs the other in, with no login call of its own", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  assert.equal(B.sdk.getUserAuthToken(), "tok-1");
  assert.equal(B.sdk.getLoggedInUser().name, "Andrew Joseph");
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1"]);
  assert.deepEqual(B.calls, []);
  assert.match(B.WS.last().url, /authToken=tok-1/, "it opens its own realtime connection");
  // and the login of the same uid there is then free
  await B.sdk.login("cometchat-uid-1", "auth-key");
  assert.deepEqual(B.calls, []);
});

test("a logout in one tab logs the other out, with no network call", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  const wsB = B.WS.last();
  await A.sdk.logout();
  await flush();
  assert.equal(B.sdk.getLoggedInUser(), null);
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1", "logoutSuccess"]);
  assert.deepEqual(B.calls, []);
  assert.equal(wsB.closedWith.code, 1000);
  t.mock.timers.tick(60_000);
  assert.equal(B.WS.instances.length, 1, "no reconnect");
});

test("switching users in one tab moves the other tab too", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  await A.sdk.login("cometchat-uid-2", "auth-key");
  await flush();
  assert.equal(B.sdk.getLoggedInUser().uid, "cometchat-uid-2");
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1", "loginSuccess cometchat-uid-2"]);
  assert.deepEqual(B.calls, []);
});

test("a 4001 that beats the storage event follows the other tab instead of ending the session", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  const wsB = B.WS.last();
  const done = A.sdk.login("cometchat-uid-2", "auth-key");
  await new Promise((r) => setImmediate(r)); // A has stored the new session; B has not heard yet
  await new Promise((r) => setImmediate(r));
  // the server revokes tok-1 (A's DELETE) and B's socket hears it first
  wsB.receive({ type: "session_revoked", reason: "logout" });
  wsB.drop(4001, "logout");
  await done;
  await flush();
  assert.equal(B.sdk.getLoggedInUser().uid, "cometchat-uid-2");
  assert.ok(!B.events.some((e) => e.startsWith("revoked")));
});

// Chromium: tab A's logout removes the session from localStorage and then revokes the
// token; the server's notice can reach tab B before A's change does, and B still reads
// its session from storage. B waits for the change and reports a logout.
test("a logout notice that beats the other tab's storage change is still a logout", async (t) => {
  const { A, B, b, tick } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  const wsB = B.WS.last();
  b.hold();
  await A.sdk.logout();
  assert.equal(B.tab.storage.getItem(KEY) !== null, true, "B still reads the session");
  wsB.receive({ type: "session_revoked", reason: "logout" });
  wsB.drop(4001, "logout");
  await flush();
  assert.equal(B.sdk.getUserAuthToken(), "tok-1", "B waits for the storage change");
  tick(100);
  b.release();
  await flush();
  assert.equal(B.sdk.getLoggedInUser(), null);
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1", "logoutSuccess"]);
  tick(1000); // the wait ends and finds the session already gone
  await flush();
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1", "logoutSuccess"]);
  t.mock.timers.tick(60_000);
  assert.equal(B.WS.instances.length, 1, "no reconnect");
});

// The wait is bounded: a "logout" that no storage change follows (the token was
// logged out from outside this browser) is reported as the revocation it is.
test("a logout notice with no storage change after it is a revocation after 500 ms", async (t) => {
  const { A, B, tick } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  const wsB = B.WS.last();
  wsB.receive({ type: "session_revoked", reason: "logout" });
  wsB.drop(4001, "logout");
  await flush();
  tick(499);
  await flush();
  assert.equal(B.sdk.getUserAuthToken(), "tok-1");
  tick(1);
  await flush();
  assert.equal(B.sdk.getLoggedInUser(), null);
  assert.deepEqual(B.events.slice(-1), ["revoked logout"]);
  assert.equal(B.WS.instances.length, 1, "no reconnect");
});

test("a revocation seen by one tab is reported as a revocation in the others", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  A.WS.last().receive({ type: "session_revoked", reason: "user_deactivated" });
  A.WS.last().drop(4001, "user_deactivated");
  await flush();
  assert.deepEqual(A.events.slice(-1), ["revoked user_deactivated"]);
  assert.equal(B.sdk.getLoggedInUser(), null);
  assert.deepEqual(B.events, ["loginSuccess cometchat-uid-1", "revoked user_deactivated"]);
  // B's own 4001 comes later and changes nothing
  B.WS.last().drop(4001, "user_deactivated");
  assert.equal(B.events.length, 2);
  assert.deepEqual(B.calls, []);
});

test("a tab opened later restores the session the first tab saved", async (t) => {
  const { A, b, server } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  const C = await openTab(b.tab(), server, {});
  assert.equal(C.sdk.getUserAuthToken(), "tok-1");
  assert.match(C.WS.last().url, /authToken=tok-1/);
});

test("storage events about other keys or another storage are ignored", async (t) => {
  const { A, B } = await twoTabs(t);
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  const other = { getItem: () => null, setItem() {}, removeItem() {} };
  B.tab.window.dispatchEvent(Object.assign(new Event("storage"), { key: KEY, newValue: null, storageArea: other }));
  B.tab.window.dispatchEvent(Object.assign(new Event("storage"), { key: "something-else", newValue: null, storageArea: B.tab.storage }));
  B.tab.window.dispatchEvent(Object.assign(new Event("storage"), { key: "app-2:common_store/user", newValue: null, storageArea: B.tab.storage }));
  assert.equal(B.sdk.getUserAuthToken(), "tok-1");
  // localStorage.clear() elsewhere (key null) is a logout
  B.tab.storage.data?.clear?.();
  A.tab.storage.removeItem(KEY);
  await flush();
  assert.equal(B.sdk.getLoggedInUser(), null);
});

test("token refresh: one tab calls the provider, the others follow", async (t) => {
  quiet(t);
  const provided = [];
  const { A, B, server, tick } = await twoTabs(t, (name) => ({
    tokenProvider: async () => { provided.push(name); return server.mint("cometchat-uid-1"); },
  }), { ttl: 3600 });
  A.WS.autoPong = B.WS.autoPong = true; // live sockets: no reconnects (and no GET /me checks)
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  // both tabs' timers come due at the same second; in steps, so the pings keep the sockets alive
  for (let i = 0; i < 710; i++) { tick(5000); await flush(2); }
  assert.deepEqual(provided, ["A"]);
  assert.equal(A.sdk.getUserAuthToken(), "tok-2");
  assert.equal(B.sdk.getUserAuthToken(), "tok-2");
  assert.deepEqual(B.calls, []);
  assert.ok(B.events.includes("loginSuccess cometchat-uid-1"));
  assert.match(B.WS.last().url, /authToken=tok-2/);
  // neither ends the refreshed session at the old token's expiry
  for (let i = 0; i < 24; i++) { tick(5000); await flush(2); }
  assert.equal(B.sdk.getUserAuthToken(), "tok-2");
  assert.equal(A.sdk.getUserAuthToken(), "tok-2");
});

test("a tab that loses the refresh lock to a stalled tab takes over once the lock is stale", async (t) => {
  quiet(t);
  const { A, server, tick, b } = await twoTabs(t, (name) => ({
    tokenProvider: async () => server.mint("cometchat-uid-1"),
  }), { ttl: 3600 });
  await A.sdk.login("cometchat-uid-1", "auth-key");
  await flush();
  // a third tab that died holds the lock
  b.data.set("app-1:common_store/refresh", JSON.stringify({ owner: "dead-tab", at: Date.now() + 3540_000 }));
  for (let i = 0; i < 59; i++) { tick(1000); await flush(1); }
  tick(3540_000 - 59_000);
  await flush();
  assert.equal(A.sdk.getUserAuthToken(), "tok-1", "another tab holds the lock");
  for (let i = 0; i < 40; i++) { tick(1000); await flush(2); }
  assert.equal(A.sdk.getUserAuthToken(), "tok-2", "the stale lock was taken over before expiry");
});
