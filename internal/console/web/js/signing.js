// Signing keys: the app's call-token keys and their state; rotate.

import { explain } from "./api.js";
import { h, clear, fmtTime, fmtDate, table, tr, emptyState, notice, toast, confirmAction, debounce } from "./ui.js";

const columns = [
  { label: "Key ID" },
  { label: "State" },
  { label: "Algorithm" },
  { label: "Created" },
  { label: "Retired" },
];

function state(k) {
  if (k.active) return h("span.badge.ok.wrap", "active: signs new call tokens");
  if (k.published) return h("span.badge.warn.wrap", `retired: verifies until ${fmtDate(k.publishedUntil)}`);
  return h("span.badge.wrap", "retired: no longer published");
}

export async function render(ctx) {
  const list = h("div", { "aria-busy": "true" }, h("p.loading", "Loading signing keys…"));
  clear(ctx.main,
    h("div.page-head",
      h("div", h("h1", "Signing keys"), h("p", "The Ed25519 keys that sign this app's call tokens. Media servers verify tokens offline with the public keys at /.well-known/jwks.json.")),
      h("button.primary", { type: "button", onclick: rotate }, "Rotate key")),
    list);

  async function load() {
    list.setAttribute("aria-busy", "true");
    let keys;
    try {
      keys = (await ctx.api.get("/signing_keys")).data;
    } catch (e) {
      list.removeAttribute("aria-busy");
      clear(list, notice("error", "Could not load the signing keys", explain(e), h("button", { type: "button", onclick: load }, "Try again")));
      return;
    }
    list.removeAttribute("aria-busy");
    keys.sort((a, b) => b.createdAt - a.createdAt);
    if (!keys.length) {
      clear(list, emptyState("No signing key yet.", "The app gets one with its first call token, or when you rotate."));
      return;
    }
    clear(list, table("Call-token signing keys", columns, keys.map((k) => tr(columns, [
      h("span.mono.break", k.kid),
      state(k),
      k.alg,
      fmtTime(k.createdAt),
      fmtTime(k.retiredAt),
    ], { "data-kid": k.kid }))));
  }

  async function rotate() {
    const ok = await confirmAction({
      title: "Rotate the signing key?",
      message: [
        "A new key signs call tokens from now on.",
        "The current key is retired but stays published until every call token it signed has expired, so tokens already handed out keep verifying. Rotate when a key may have leaked, or on a schedule.",
      ],
      confirm: "Rotate key",
      danger: false,
    });
    if (!ok) return;
    try {
      const d = (await ctx.api.post("/signing_keys/rotate", {})).data;
      toast(`Rotated: ${d.active.kid} is active.`);
    } catch (e) {
      toast(explain(e), "error");
    }
    load();
  }

  const reload = debounce(load, 200);
  ctx.on("audit", (ev) => { if (ev.action === "signingkey.rotate") reload(); });
  ctx.on("resync", reload);
  await load();
}
