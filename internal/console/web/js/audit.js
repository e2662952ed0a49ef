// The audit log: every admin change, filtered by action, actor, target
// and time, page by page; new events arrive at the top of the first page.

import { explain, qs } from "./api.js";
import { h, clear, field, fmtTime, fmtNum, pager, table, tr, emptyState, notice, debounce, unixFromLocal } from "./ui.js";

// The actions GET /audit_events knows (a Go test holds this list to the server's).
export const actions = [
  "app.update", "apikey.create", "apikey.update", "apikey.delete",
  "user.create", "user.update", "user.delete", "user.deactivate", "user.reactivate",
  "token.delete", "token.flush", "token.revoke", "signingkey.rotate",
];

const PER_PAGE = 50;

const columns = [
  { label: "Time" },
  { label: "Action" },
  { label: "Target" },
  { label: "Actor" },
  { label: "From" },
  { label: "Details" },
];

export async function render(ctx) {
  const action = h("select", {}, h("option", { value: "" }, "All actions"), actions.map((a) => h("option", { value: a }, a)));
  const actor = h("input", { type: "text", placeholder: "key_…", autocomplete: "off", spellcheck: "false", list: "audit-keys" });
  const keyList = h("datalist", { id: "audit-keys" });
  const target = h("input", { type: "text", placeholder: "uid, key or app", autocomplete: "off", spellcheck: "false" });
  const since = h("input", { type: "datetime-local" });
  const until = h("input", { type: "datetime-local" });
  const f = {
    action: field("Action", action),
    actor: field("Actor (key ID)", actor),
    target: field("Target", target),
    since: field("From", since),
    until: field("Until", until),
  };
  const list = h("div", { "aria-busy": "true" }, h("p.loading", "Loading the audit log…"));
  const count = h("p", { "aria-live": "polite" });
  const form = h("form.filters.audit", { role: "search", "aria-label": "Filter the audit log", novalidate: true, onsubmit: (e) => { e.preventDefault(); apply(); } },
    f.action, f.actor, f.target, f.since, f.until,
    h("button", { type: "button", onclick: reset }, "Clear"));
  clear(ctx.main,
    h("div.page-head", h("div", h("h1", "Audit log"), count)),
    form, keyList, list);

  const st = { page: 1 };
  let page = null;
  const apply = () => { st.page = 1; load(); };
  for (const c of [action, since, until]) c.addEventListener("change", apply);
  for (const c of [actor, target]) c.addEventListener("input", debounce(apply, 300));

  function reset() {
    action.value = actor.value = target.value = since.value = until.value = "";
    apply();
  }

  function filters() {
    return {
      action: action.value,
      actor: actor.value.trim(),
      target: target.value.trim(),
      since: unixFromLocal(since.value),
      until: unixFromLocal(until.value),
    };
  }

  async function load() {
    const q = filters();
    list.setAttribute("aria-busy", "true");
    let res;
    try {
      res = await ctx.api.get("/audit_events" + qs({ ...q, perPage: PER_PAGE, page: st.page }));
    } catch (e) {
      list.removeAttribute("aria-busy");
      const rest = e.details && Object.keys(e.details).length ? [] : [explain(e)];
      for (const fl of Object.values(f)) fl.setError("");
      for (const [k, v] of Object.entries(e.details || {})) if (f[k]) f[k].setError(v);
      clear(list, notice("error", "Could not load the audit log", ...rest, Object.keys(e.details || {}).length ? "Fix the filters marked in red." : ""));
      return;
    }
    for (const fl of Object.values(f)) fl.setError("");
    list.removeAttribute("aria-busy");
    page = res;
    const p = res.meta.pagination;
    count.textContent = p.total === 1 ? "1 event" : `${fmtNum(p.total)} events`;
    draw();
  }

  function draw() {
    const filtered = Object.values(filters()).some(Boolean);
    if (!page.data.length) {
      clear(list, emptyState(filtered ? "No events match these filters." : "No events yet.",
        filtered ? "Widen the time range or clear the filters." : "Every change made through the API — users, keys, sessions, settings — is recorded here, by the key that made it."));
      return;
    }
    clear(list, table("Audit events", columns, page.data.map((ev) => row(ev))), pager(page.meta, (n) => { st.page = n; load(); }, "events"));
  }

  function row(ev, fresh) {
    const details = ev.details && Object.keys(ev.details).length ? h("details.json", h("summary", "Details"), h("pre", JSON.stringify(ev.details, null, 2))) : h("span.muted", "—");
    return tr(columns, [
      fmtTime(ev.time),
      h("span.mono", ev.action),
      h("span.mono.break", ev.target || "—"),
      [h("div.mono", ev.actor.id || ev.actor.type), ev.actor.id === ctx.keyId ? h("div.cell-sub", "this console's key") : h("div.cell-sub", ev.actor.type)],
      h("span.mono", ev.ip || "—"),
      details,
    ], { class: fresh ? "fresh" : null, "data-event": ev.id });
  }

  // Live: an event that matches the filters joins the first page.
  ctx.on("audit", (ev) => {
    if (!page || st.page !== 1) return;
    const q = filters();
    if ((q.action && ev.action !== q.action) || (q.actor && ev.actor.id !== q.actor) || (q.target && ev.target !== q.target) ||
      (q.since && ev.time < q.since) || (q.until && ev.time > q.until)) return;
    if (page.data.some((x) => x.id === ev.id)) return;
    page.data.unshift(ev);
    if (page.data.length > PER_PAGE) page.data.pop();
    const p = page.meta.pagination;
    p.total++;
    p.count = page.data.length;
    p.total_pages = Math.ceil(p.total / p.per_page);
    count.textContent = p.total === 1 ? "1 event" : `${fmtNum(p.total)} events`;
    const tbody = list.querySelector("tbody");
    if (!tbody) return draw();
    tbody.prepend(row(ev, true));
    while (tbody.children.length > PER_PAGE) tbody.lastElementChild.remove();
    const pg = list.querySelector(".pager");
    if (pg) pg.replaceWith(pager(page.meta, (n) => { st.page = n; load(); }, "events"));
  });
  ctx.on("resync", () => load());

  // Key ids to pick from, by name.
  ctx.api.get("/apikeys").then((r) => {
    clear(keyList, r.data.map((k) => h("option", { value: k.id }, k.name)));
  }, () => {});
  if (ctx.query.get("target")) target.value = ctx.query.get("target");
  await load();
}
