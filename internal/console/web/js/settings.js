// App settings: the name, token lifetimes, default call grants and the
// browser origins, with the API's own validation messages per field.

import { explain } from "./api.js";
import { h, clear, field, notice, toast, showFieldErrors, fmtDuration, confirmAction } from "./ui.js";

const grants = [
  ["join", "Join calls"],
  ["publishAudio", "Publish audio"],
  ["publishVideo", "Publish video"],
  ["screenShare", "Share the screen"],
  ["moderator", "Moderate (mute and remove others)"],
];

const seconds = [
  ["authTokenTTL", "Auth token lifetime", "Seconds; 0 = tokens never expire. Applies to tokens created from now on."],
  ["authTokenIdleTimeout", "Auth token idle timeout", "Seconds; 0 = none, else 60 to 31536000. A token unused for longer stops working."],
  ["callTokenTTL", "Call token lifetime", "Seconds; 60 to 86400 (0 = the default, one hour). Never beyond the auth token that mints it."],
];

export async function render(ctx) {
  const form = h("form", { novalidate: true, "aria-busy": "true" }, h("p.loading", "Loading the settings…"));
  clear(ctx.main,
    h("div.page-head", h("div", h("h1", "App settings"), h("p", "Changes apply at once on every node."))),
    form);

  let app;
  try {
    app = (await ctx.api.get("/app")).data;
    form.removeAttribute("aria-busy");
  } catch (e) {
    form.removeAttribute("aria-busy");
    clear(form, notice("error", "Could not load the settings", explain(e), h("button", { type: "button", onclick: () => render(ctx) }, "Try again")));
    return;
  }
  const s = app.settings;
  const f = {};
  const hints = {};
  f.name = field("App name", h("input", { type: "text", value: app.name, autocomplete: "off" }), `App ID ${app.appId}, region ${app.region}: these cannot change.`);
  for (const [k, label, hint] of seconds) {
    const input = h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", value: String(s[k]) });
    hints[k] = h("span.hint", { "aria-live": "polite" });
    f[k] = field(label, input, hint);
    f[k].append(hints[k]);
    const say = () => {
      const v = Number(input.value);
      hints[k].textContent = Number.isInteger(v) && v > 0 ? `= ${fmtDuration(v)}` : "";
    };
    input.addEventListener("input", say);
    say();
  }
  const grantBoxes = {};
  const grantSet = h("fieldset", h("legend", "Default call grants"),
    h("p.muted.small", "What call tokens minted from now on allow."),
    grants.map(([k, label]) => {
      grantBoxes[k] = h("input", { type: "checkbox", checked: s.callGrants[k] });
      return h("label.check", grantBoxes[k], label);
    }));
  const grantErr = h("span.error-text", { hidden: true });
  grantSet.append(grantErr);
  f.callGrants = { setError: (m) => { grantErr.hidden = !m; grantErr.textContent = m || ""; }, control: grantBoxes.join };
  const origins = h("textarea", { rows: "4", spellcheck: "false" }, s.corsOrigins.join("\n"));
  f.corsOrigins = field("Allowed browser origins (corsOrigins)", origins,
    "One per line: https://app.example.com, http://localhost:5173, or * for every origin. Pages of other origins are refused (ERR_ORIGIN_NOT_ALLOWED). This console needs none of them.");
  const own = location.origin;
  const addOwn = h("button.small", { type: "button", onclick: () => {
    const lines = origins.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (!lines.includes(own)) lines.push(own);
    origins.value = lines.join("\n");
    origins.focus();
  } }, `Add ${own}`);
  f.corsOrigins.append(h("div.row", addOwn, h("span.muted.small", "for pages served from this server, like Try it")));

  const status = h("div", { tabindex: "-1" });
  const save = h("button.primary", { type: "submit" }, "Save changes");
  clear(form,
    h("section.card", h("h2", "General"), f.name),
    h("section.card", h("h2", "Sessions and call tokens"), h("div.grid-2", seconds.map(([k]) => f[k])), grantSet),
    h("section.card", h("h2", "Browsers"), f.corsOrigins),
    status,
    h("div.row", save, h("button", { type: "button", onclick: () => render(ctx) }, "Discard changes")));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(status);
    const body = { settings: {} };
    if (f.name.control.value.trim() !== app.name) body.name = f.name.control.value;
    const local = {};
    for (const [k] of seconds) {
      const raw = f[k].control.value.trim();
      if (raw === "") {
        local[k] = "must be a whole number of seconds";
        continue;
      }
      const v = Number(raw);
      if (v !== s[k]) body.settings[k] = v;
    }
    const g = {};
    for (const [k] of grants) if (grantBoxes[k].checked !== s.callGrants[k]) g[k] = grantBoxes[k].checked;
    if (Object.keys(g).length) body.settings.callGrants = g;
    const list = origins.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (list.join("\n") !== s.corsOrigins.join("\n")) body.settings.corsOrigins = list;
    if (Object.keys(local).length) {
      showFieldErrors(f, local);
      return;
    }
    if (!Object.keys(body.settings).length) delete body.settings;
    if (!body.settings && body.name === undefined) {
      clear(status, notice("", "Nothing changed."));
      return;
    }
    if (body.settings && body.settings.corsOrigins && list.includes("*") && !s.corsOrigins.includes("*")) {
      const ok = await confirmAction({
        title: "Allow every origin?",
        message: "With * any website may call this app's API from its visitors' browsers with a key or token it holds. Use it for development.",
        confirm: "Allow every origin",
      });
      if (!ok) return;
    }
    save.disabled = true;
    try {
      const res = await ctx.api.put("/app", body);
      app = res.data;
      ctx.app = app;
      showFieldErrors(f, {});
      toast("Settings saved.");
      render(ctx);
    } catch (e2) {
      // The API names each bad field: settings.callTokenTTL, settings.corsOrigins[1], name.
      const rest = showFieldErrors(f, e2.details, (k) => {
        const m = k.match(/^settings\.([A-Za-z]+)/);
        return m ? m[1] : k;
      });
      const lines = Object.entries(e2.details || {}).filter(([k]) => /^settings\.corsOrigins\[\d+\]$/.test(k));
      if (lines.length) {
        f.corsOrigins.setError(lines.map(([k, v]) => `line ${Number(k.match(/\[(\d+)\]/)[1]) + 1}: ${v}`).join("; "));
      }
      clear(status, notice("error", "Nothing was saved.", Object.keys(e2.details || {}).length ? "Fix the fields marked in red, then save again." : explain(e2), ...rest));
      if (!Object.keys(e2.details || {}).length) status.focus();
    } finally {
      save.disabled = false;
    }
  });
}
