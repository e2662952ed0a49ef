// The module imports cleanly anywhere (Node, SSR) and its surface matches calls.d.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { freshSDK } from "../test-support/fakes.js";

test("importing touches no browser global", async () => {
  const touched = [];
  const names = ["window", "localStorage", "WebSocket", "location", "document", "navigator", "sessionStorage"];
  const saved = names.map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]);
  for (const n of names) {
    Object.defineProperty(globalThis, n, { configurable: true, get() { touched.push(n); throw new Error(n + " touched"); } });
  }
  try {
    const mod = await freshSDK();
    assert.equal(typeof mod.CometChatCalls.init, "function");
  } finally {
    for (const [n, d] of saved) {
      if (d) Object.defineProperty(globalThis, n, d);
      else delete globalThis[n];
    }
  }
  assert.deepEqual(touched, []);
});

test("named and default exports", async () => {
  const mod = await freshSDK();
  assert.equal(mod.default, mod.CometChatCalls);
  assert.ok(Object.isFrozen(mod.CometChatCalls));
  assert.equal(typeof mod.CometChatCallsError, "function");
  assert.equal(typeof new mod.CometChatCalls.CallAppSettingsBuilder().build, "function");
});

test("methods work detached from the object", async () => {
  const { CometChatCalls } = await freshSDK();
  const { getLoggedInUser, isUserLoggedIn } = CometChatCalls;
  assert.equal(getLoggedInUser(), null);
  assert.equal(isUserLoggedIn(), false);
});

test("calls.d.ts declares every member of CometChatCalls", async () => {
  const { CometChatCalls } = await freshSDK();
  const dts = readFileSync(new URL("../calls.d.ts", import.meta.url), "utf8");
  for (const k of Object.keys(CometChatCalls)) assert.match(dts, new RegExp(`\\b${k}\\b`), k);
  for (const k of ["CometChatCallsError", "User", "Session", "CallAppSettings", "LoginListener", "UserListener", "ConnectionListener"]) {
    assert.match(dts, new RegExp(`(interface|class|type) ${k}\\b`), k);
  }
});

test("package.json points at the module and its types and has no dependencies", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(pkg.name, "@callgate/calls");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.main, "./calls.js");
  assert.equal(pkg.types, "./calls.d.ts");
  assert.deepEqual(pkg.exports["."], { types: "./calls.d.ts", default: "./calls.js" });
  assert.equal(pkg.dependencies, undefined);
});
