// Users: search, filter by presence, paginate, create, edit, deactivate,
// reactivate, delete. Presence changes show as they happen.

import { explain, qs, seg } from "./api.js";
import { h, clear, field, fmtTime, presence, pager, table, tr, emptyState, notice, debounce } from "./ui.js";
import { userDialog, deactivate, reactivate, removeUser } from "./userforms.js";

const PER_PAGE = 25;

const columns = [
  { label: "User" },
  { label: "Status" },
  { label: "Role" },
  { label: "Last active" },
  { label: "Created" },
  { srLabel: "Actions", cls: "actions" },
];

export async function render(ctx) {
  const q = ctx.query;
  const st = { search: q.get("q") || "", status: q.get("status") || "", page: Math.max(1, parseInt(q.get("page") || "1", 10) || 1) };
  const search = h("input", { type: "search", value: st.search, placeholder: "uid or name", autocomplete: "off", spellcheck: "false" });
  const status = h("select", {},
    h("option", { value: "" }, "Everyone"),
    h("option", { value: "online" }, "Online"),
    h("option", { value: "offline" }, "Offline"));
  status.value = st.status;
  const list = h("div", { "aria-busy": "true" }, h("p.loading", "Loading users…"));
  const count = h("p", { "aria-live": "polite" });
  clear(ctx.main,
    h("div.page-head",
      h("div", h("h1", "Users"), count),
      h("button.primary", { type: "button", onclick: create }, "Create user")),
    h("form.filters.two", { role: "search", "aria-label": "Filter users", onsubmit: (e) => { e.preventDefault(); apply(); } },
      field("Search", search),
      field("Presence", status)),
    list);

  let rows = new Map(); // uid → {row, user}
  const apply = () => {
    st.search = search.value.trim();
    st.status = status.value;
    st.page = 1;
    load();
  };
  search.addEventListener("input", debounce(apply, 250));
  status.addEventListener("change", apply);

  async function load() {
    const params = { searchKey: st.search, status: st.status, perPage: PER_PAGE, page: st.page };
    const hash = "#/users" + qs({ q: st.search, status: st.status, page: st.page > 1 ? st.page : 0 });
    if (location.hash !== hash) history.replaceState(null, "", hash);
    list.setAttribute("aria-busy", "true");
    let res;
    try {
      res = await ctx.api.get("/users" + qs(params));
    } catch (e) {
      list.removeAttribute("aria-busy");
      clear(list, notice("error", "Could not load the users", explain(e), h("button", { type: "button", onclick: load }, "Try again")));
      return;
    }
    list.removeAttribute("aria-busy");
    const p = res.meta.pagination;
    if (p.total > 0 && p.count === 0 && st.page > 1) {
      st.page = Math.max(1, p.total_pages);
      return load();
    }
    count.textContent = p.total === 1 ? "1 user" : `${new Intl.NumberFormat().format(p.total)} users`;
    rows = new Map();
    if (!res.data.length) {
      const filtered = st.search || st.status;
      clear(list, emptyState(
        filtered ? "No users match these filters." : "No users yet.",
        filtered ? "Clear the search or choose Everyone." : "Create one here, or from your backend with POST /v3/users.",
        filtered ? h("button", { type: "button", onclick: () => { search.value = ""; status.value = ""; apply(); } }, "Clear filters") : h("button.primary", { type: "button", onclick: create }, "Create user")));
      return;
    }
    const trs = res.data.map((u) => {
      const row = userRow(u);
      rows.set(u.uid, { row, user: u });
      return row;
    });
    clear(list, table("Users of the app", columns, trs), pager(res.meta, (n) => { st.page = n; load(); }, "users"));
  }

  function userRow(u) {
    const link = h("a", { href: `#/users/${seg(u.uid)}` }, u.name || u.uid);
    const actions = [
      h("button.small", { type: "button", onclick: () => edit(u), "aria-label": `Edit ${u.uid}` }, "Edit"),
      u.deactivatedAt
        ? h("button.small", { type: "button", onclick: async () => { if (await reactivate(ctx, u.uid)) load(); }, "aria-label": `Reactivate ${u.uid}` }, "Reactivate")
        : h("button.small", { type: "button", onclick: async () => { if (await deactivate(ctx, u.uid)) load(); }, "aria-label": `Deactivate ${u.uid}` }, "Deactivate"),
      h("button.small.danger", { type: "button", onclick: async () => { if (await removeUser(ctx, u.uid)) load(); }, "aria-label": `Delete ${u.uid}` }, "Delete"),
    ];
    return tr(columns, [
      [h("div.cell-main", link), h("div.cell-sub.mono", u.uid)],
      h("span.presence", presence(u)),
      u.role,
      fmtTime(u.lastActiveAt, { relative: true, never: "never" }),
      fmtTime(u.createdAt),
      actions,
    ], { "data-uid": u.uid });
  }

  async function create() {
    const u = await userDialog(ctx, null);
    if (u) {
      st.search = u.uid;
      search.value = u.uid;
      st.status = "";
      status.value = "";
      st.page = 1;
      load();
    }
  }

  async function edit(u) {
    if (u.deactivatedAt) return;
    if (await userDialog(ctx, u)) load();
  }

  // Live: presence changes in place; a change made elsewhere reloads the page.
  const reload = debounce(load, 300);
  ctx.on("presence", (ev) => {
    const hit = rows.get(ev.uid);
    if (st.status) {
      if (hit || ev.status === st.status) reload();
      return;
    }
    if (!hit) return;
    hit.user.status = ev.status;
    hit.user.lastActiveAt = ev.lastActiveAt;
    const fresh = userRow(hit.user);
    fresh.classList.add("fresh");
    hit.row.replaceWith(fresh);
    hit.row = fresh;
  });
  ctx.on("audit", (ev) => {
    if (ev.action.startsWith("user.")) reload();
  });
  ctx.on("resync", reload);
  await load();
}
