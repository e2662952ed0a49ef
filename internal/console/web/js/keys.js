// API keys: create (the secret shown once), rename, change scope, delete.

import { explain, seg } from "./api.js";
import { h, clear, field, fmtTime, fmtNum, table, tr, emptyState, notice, toast, confirmAction, openDialog, secretBox,
  showFieldErrors, debounce } from "./ui.js";

const columns = [
  { label: "Name" },
  { label: "Scope" },
  { label: "Created" },
  { srLabel: "Actions", cls: "actions" },
];

const scopeWords = {
  fullAccess: "fullAccess — the whole REST API; for servers",
  authOnly: "authOnly — create users and auth tokens; what a client's login(uid, key) needs",
};

export async function render(ctx) {
  const list = h("div", { "aria-busy": "true" }, h("p.loading", "Loading keys…"));
  const count = h("p", { "aria-live": "polite" });
  clear(ctx.main,
    h("div.page-head",
      h("div", h("h1", "API keys"), count),
      h("button.primary", { type: "button", onclick: create }, "Create key")),
    h("p.muted", "Keys are shown once, when created: the server keeps only a hash. At most 25 per app."),
    list);

  let keys = [];
  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      keys = (await ctx.api.get("/apikeys")).data;
    } catch (e) {
      list.removeAttribute("aria-busy");
      clear(list, notice("error", "Could not load the keys", explain(e), h("button", { type: "button", onclick: load }, "Try again")));
      return;
    }
    list.removeAttribute("aria-busy");
    keys.sort((a, b) => a.createdAt - b.createdAt);
    count.textContent = `${fmtNum(keys.length)} of ${fmtNum(25)} keys`;
    if (!keys.length) {
      clear(list, emptyState("No keys.", "Create one to call the REST API."));
      return;
    }
    clear(list, table("API keys of the app", columns, keys.map((k) => {
      const mine = k.id === ctx.keyId;
      return tr(columns, [
        [h("div.cell-main", k.name, mine ? [" ", h("span.badge.accent", "this console's key")] : null), h("div.cell-sub.mono", k.id)],
        h("span.badge", { class: k.scope === "fullAccess" ? "warn" : "" }, k.scope),
        fmtTime(k.createdAt),
        [
          h("button.small", { type: "button", onclick: () => rename(k), "aria-label": `Rename ${k.name}` }, "Rename"),
          h("button.small", { type: "button", onclick: () => changeScope(k), "aria-label": `Change the scope of ${k.name}` }, k.scope === "fullAccess" ? "Make authOnly" : "Make fullAccess"),
          h("button.small.danger", { type: "button", onclick: () => remove(k), "aria-label": `Delete ${k.name}` }, "Delete"),
        ],
      ], { "data-key": k.id });
    })));
  }

  async function create() {
    const name = h("input", { type: "text", autocomplete: "off", required: true });
    const scopes = ["authOnly", "fullAccess"].map((s, i) =>
      h("label.check", h("input", { type: "radio", name: "scope", value: s, checked: i === 0 }), scopeWords[s]));
    const f = { name: field("Name", name, "What the key is for, e.g. “iOS app” or “billing backend”.") };
    const scopeSet = h("fieldset", h("legend", "Scope"), scopes);
    f.scope = { setError: (m) => { scopeSet.querySelector(".error-text")?.remove(); if (m) scopeSet.append(h("span.error-text", m)); }, control: scopes[0].querySelector("input") };
    const errBox = h("div");
    let created = null;
    await openDialog({
      title: "Create an API key",
      body: [f.name, scopeSet, errBox],
      actions: [{ label: "Cancel", value: null }, { label: "Create key", kind: "primary", submit: true }],
      onSubmit: async () => {
        clear(errBox);
        const scope = scopeSet.querySelector("input:checked").value;
        try {
          created = (await ctx.api.post("/apikeys", { name: name.value.trim(), scope })).data;
          return true;
        } catch (e) {
          const rest = showFieldErrors(f, e.details);
          if (rest.length || !Object.keys(e.details || {}).length) clear(errBox, notice("error", explain(e), ...rest));
          return false;
        }
      },
    });
    if (!created) return;
    load();
    await openDialog({
      title: `Key “${created.name}” created`,
      body: [secretBox(`API key (${created.scope})`, created.apiKey),
        h("p.muted.small", created.scope === "fullAccess" ? "Keep it on servers: whoever has it can do everything the console does." : "authOnly keys may be shipped in development clients; in production your backend mints auth tokens instead.")],
      actions: [{ label: "Done", kind: "primary", value: true }],
    });
  }

  async function rename(k) {
    const name = h("input", { type: "text", value: k.name, autocomplete: "off" });
    const f = { name: field("Name", name) };
    const errBox = h("div");
    const ok = await openDialog({
      title: `Rename ${k.name}`,
      body: [f.name, errBox],
      actions: [{ label: "Cancel", value: null }, { label: "Rename", kind: "primary", submit: true }],
      onSubmit: async () => {
        clear(errBox);
        try {
          await ctx.api.put(`/apikeys/${seg(k.id)}`, { name: name.value.trim() });
          return true;
        } catch (e) {
          const rest = showFieldErrors(f, e.details);
          if (rest.length || !Object.keys(e.details || {}).length) clear(errBox, notice("error", explain(e), ...rest));
          return false;
        }
      },
    });
    if (ok) {
      toast("Key renamed.");
      load();
    }
  }

  async function changeScope(k) {
    const to = k.scope === "fullAccess" ? "authOnly" : "fullAccess";
    const mine = k.id === ctx.keyId;
    const ok = await confirmAction({
      title: `Make ${k.name} ${to}?`,
      message: [
        to === "authOnly"
          ? "It will only create users and auth tokens: servers that use it for anything else get AUTH_ERR_NO_ACCESS."
          : "It will be able to call the whole REST API: keep it out of clients.",
        mine ? "This is the key this console is signed in with: the console will sign out." : null,
      ].filter(Boolean),
      confirm: `Make ${to}`,
      danger: to === "authOnly",
    });
    if (!ok) return;
    try {
      await ctx.api.put(`/apikeys/${seg(k.id)}`, { scope: to });
      toast(`${k.name} is now ${to}.`);
      if (mine && to === "authOnly") {
        ctx.signOut("The key this console was signed in with is authOnly now. Sign in with a fullAccess key.");
        return;
      }
    } catch (e) {
      toast(explain(e), "error");
    }
    load();
  }

  async function remove(k) {
    const mine = k.id === ctx.keyId;
    const ok = await confirmAction({
      title: `Delete ${k.name}?`,
      message: [
        "Every client and server that uses this key is refused from now on (AUTH_ERR_APIKEY_NOT_FOUND). This cannot be undone.",
        mine ? "This is the key this console is signed in with: the console will sign out." : null,
      ].filter(Boolean),
      confirm: "Delete key",
    });
    if (!ok) return;
    try {
      await ctx.api.del(`/apikeys/${seg(k.id)}`);
      toast(`Deleted ${k.name}.`);
      if (mine) {
        ctx.signOut("You deleted the key this console was signed in with. Sign in with another fullAccess key.");
        return;
      }
    } catch (e) {
      toast(explain(e), "error");
    }
    load();
  }

  const reload = debounce(load, 200);
  ctx.on("audit", (ev) => { if (ev.action.startsWith("apikey.")) reload(); });
  ctx.on("ready", reload); // the console's own key becomes known
  ctx.on("resync", reload);
  await load();
}
