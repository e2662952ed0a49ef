// One user: the profile and the sessions (auth tokens): revoke one, all,
// or those issued before a time; mint a token shown once. Revocations and
// presence show as they happen.

import { explain, qs, seg } from "./api.js";
import { h, clear, field, fmtTime, fmtNum, presence, table, tr, emptyState, notice, toast, confirmAction, openDialog,
  showFieldErrors, debounce, localFromUnix, unixFromLocal } from "./ui.js";
import { userDialog, deactivate, reactivate, removeUser, mintToken } from "./userforms.js";

const sessionColumns = [
  { label: "Device" },
  { label: "User agent" },
  { label: "Created" },
  { label: "Last used" },
  { label: "Connected" },
  { srLabel: "Actions", cls: "actions" },
];

export async function render(ctx) {
  const uid = ctx.params[0];
  ctx.setTitle(uid);
  const back = h("p.crumbs", h("a", { href: "#/users" }, "← Users"));
  const head = h("div.page-head", h("div", h("h1", uid)));
  const profile = h("section.card", { "aria-labelledby": "profile-h" }, h("h2", { id: "profile-h" }, "Profile"), h("p.loading", "Loading…"));
  const sessionsList = h("div", { "aria-busy": "true" }, h("p.loading", "Loading sessions…"));
  const sessionCount = h("span.muted.small", { "aria-live": "polite" });
  const sessions = h("section.card", { "aria-labelledby": "sessions-h" },
    h("div.page-head",
      h("div", h("h2", { id: "sessions-h" }, "Sessions"), sessionCount),
      h("div.row",
        h("button.primary", { type: "button", onclick: mint }, "Mint auth token"),
        h("button", { type: "button", onclick: revokeBefore }, "Revoke issued before…"),
        h("button.danger", { type: "button", onclick: revokeAll }, "Revoke all"))),
    h("p.muted.small", "Each session is one auth token. Revoking it ends the session at once: the client's connection closes and its next call is refused."),
    sessionsList);
  clear(ctx.main, back, head, profile, sessions);

  let user = null;

  async function loadUser() {
    try {
      user = (await ctx.api.get(`/users/${seg(uid)}`)).data;
    } catch (e) {
      if (e.code === "ERR_UID_NOT_FOUND") {
        // Deactivated users exist only for reactivation: find the record in the list.
        const res = await ctx.api.get("/users" + qs({ searchKey: uid, perPage: 100 })).catch(() => null);
        const found = res && res.data.find((u) => u.uid === uid);
        if (found && found.deactivatedAt) {
          user = found;
          showDeactivated();
          return;
        }
        clear(ctx.main, back, h("h1", uid), notice("warn", "There is no user with this uid.",
          "It may have been deleted. Go back to Users to find another, or create it there."));
        return;
      }
      clear(profile, h("h2", "Profile"), notice("error", "Could not load the user", explain(e), h("button", { type: "button", onclick: loadUser }, "Try again")));
      return;
    }
    showProfile();
  }

  function showActions() {
    clear(head,
      h("div", h("h1", user.name || uid), h("p.mono", uid)),
      h("div.row",
        user.deactivatedAt ? null : h("button", { type: "button", onclick: edit }, "Edit"),
        user.deactivatedAt
          ? h("button.primary", { type: "button", onclick: async () => { if (await reactivate(ctx, uid)) { loadUser(); loadSessions(); } } }, "Reactivate")
          : h("button", { type: "button", onclick: async () => { if (await deactivate(ctx, uid)) { loadUser(); loadSessions(); } } }, "Deactivate"),
        h("button.danger", { type: "button", onclick: async () => { if (await removeUser(ctx, uid)) location.hash = "#/users"; } }, "Delete")));
  }

  function showDeactivated() {
    showActions();
    clear(profile, h("h2", { id: "profile-h" }, "Profile"),
      notice("warn", "This user is deactivated.", `Since ${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(user.deactivatedAt * 1000))}. They cannot log in; their uid stays taken. Reactivate to let them log in again.`));
    sessions.hidden = true;
  }

  function showProfile() {
    showActions();
    sessions.hidden = false;
    const initials = (user.name || uid).split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
    const avatar = h("div.avatar", { "aria-hidden": "true" },
      /^https:\/\//.test(user.avatar || "") ? h("img", { src: user.avatar, alt: "", referrerpolicy: "no-referrer" }) : initials);
    const facts = [
      ["Status", h("span.presence", presence(user))],
      ["UID", h("span.mono", user.uid)],
      ["Role", user.role],
      ["Last active", fmtTime(user.lastActiveAt, { never: "never" })],
      ["Created", fmtTime(user.createdAt)],
      ["Updated", fmtTime(user.updatedAt)],
      ["Link", user.link ? h("a", { href: user.link, rel: "noopener noreferrer", target: "_blank" }, user.link) : h("span.muted", "—")],
      ["Tags", user.tags && user.tags.length ? user.tags.map((t) => h("span.badge", t)) : h("span.muted", "—")],
      ["Metadata", user.metadata && Object.keys(user.metadata).length ? h("pre.json", JSON.stringify(user.metadata, null, 2)) : h("span.muted", "—")],
    ];
    clear(profile, h("h2", { id: "profile-h" }, "Profile"),
      h("div.profile", avatar, h("dl.facts", facts.map(([k, v]) => [h("dt", k), h("dd", v)]))));
  }

  async function loadSessions() {
    if (user && user.deactivatedAt) return;
    sessionsList.setAttribute("aria-busy", "true");
    let res;
    try {
      res = await ctx.api.get(`/users/${seg(uid)}/auth_tokens`);
    } catch (e) {
      sessionsList.removeAttribute("aria-busy");
      if (e.code === "ERR_UID_NOT_FOUND") return; // loadUser says so
      clear(sessionsList, notice("error", "Could not load the sessions", explain(e), h("button", { type: "button", onclick: loadSessions }, "Try again")));
      return;
    }
    sessionsList.removeAttribute("aria-busy");
    const toks = res.data.sort((a, b) => b.createdAt - a.createdAt);
    sessionCount.textContent = toks.length === 1 ? "1 session" : `${fmtNum(toks.length)} sessions`;
    if (!toks.length) {
      clear(sessionsList, emptyState("No sessions.", "The user has no auth token: a login, or Mint auth token, starts one."));
      return;
    }
    clear(sessionsList, table(`Sessions of ${uid}`, sessionColumns, toks.map((t) => tr(sessionColumns, [
      [h("div.cell-main", t.platform || "unknown platform"), h("div.cell-sub", t.deviceId || "no device id"), h("div.cell-sub.mono", t.id)],
      h("div.ua", { title: t.userAgent || "" }, t.userAgent || h("span.muted", "—")),
      [h("div", fmtTime(t.createdAt)), h("div.cell-sub", t.expiresAt ? ["expires ", fmtTime(t.expiresAt)] : "never expires")],
      fmtTime(t.lastUsedAt, { never: "not yet", relative: true }),
      t.connected ? h("span.badge.online", "connected now") : h("span.badge.offline", "not connected"),
      h("button.small.danger", { type: "button", onclick: () => revoke(t), "aria-label": `Revoke session ${t.id}` }, "Revoke"),
    ], { "data-token": t.id }))));
  }

  async function revoke(t) {
    const ok = await confirmAction({
      title: "Revoke this session?",
      message: [`${t.platform || "A device"}${t.deviceId ? " (" + t.deviceId + ")" : ""}, created ${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(t.createdAt * 1000))}.`,
        "Its token stops working now and its connection is closed (the client is told: token_deleted). The user's other sessions stay."],
      confirm: "Revoke session",
    });
    if (!ok) return;
    try {
      await ctx.api.del(`/users/${seg(uid)}/auth_tokens/${seg(t.id)}`);
      toast("Session revoked.");
    } catch (e) {
      toast(explain(e), "error");
    }
    loadSessions();
  }

  async function revokeAll() {
    const ok = await confirmAction({
      title: `Revoke all of ${uid}'s sessions?`,
      message: "Every auth token of the user is deleted now and every connection closed (tokens_flushed). They must log in again.",
      confirm: "Revoke all",
    });
    if (!ok) return;
    try {
      const d = (await ctx.api.del(`/users/${seg(uid)}/auth_tokens`)).data;
      toast(d.deleted === 1 ? "1 session revoked." : `${fmtNum(d.deleted)} sessions revoked.`);
    } catch (e) {
      toast(explain(e), "error");
    }
    loadSessions();
  }

  async function revokeBefore() {
    // Now, rounded up to the next second: every session so far.
    const when = h("input", { type: "datetime-local", value: localFromUnix(Math.floor(Date.now() / 1000) + 1), step: "1" });
    const f = { issuedBefore: field("Issued before", when, `In your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}). Sessions created before this moment end; later ones stay. The default is now: every session so far.`) };
    const errBox = h("div");
    let n = null;
    await openDialog({
      title: `Revoke ${uid}'s sessions issued before…`,
      body: [f.issuedBefore, errBox],
      actions: [{ label: "Cancel", value: null }, { label: "Revoke", kind: "danger solid", submit: true }],
      onSubmit: async () => {
        clear(errBox);
        const t = unixFromLocal(when.value);
        if (!t) {
          showFieldErrors(f, { issuedBefore: "choose a date and time" });
          return false;
        }
        try {
          n = (await ctx.api.post(`/users/${seg(uid)}/auth_tokens/revoke`, { issuedBefore: t })).data.revoked;
          return true;
        } catch (e) {
          const rest = showFieldErrors(f, e.details);
          if (rest.length || !Object.keys(e.details || {}).length) clear(errBox, notice("error", explain(e), ...rest));
          return false;
        }
      },
    });
    if (n !== null) {
      toast(n === 1 ? "1 session revoked." : `${fmtNum(n)} sessions revoked.`);
      loadSessions();
    }
  }

  async function mint() {
    if (await mintToken(ctx, uid)) loadSessions();
  }

  async function edit() {
    if (await userDialog(ctx, user)) loadUser();
  }

  // Live: this user's presence and revocations; a session list also
  // changes without an event (a second device connecting), so it is
  // re-read every 10 s while the page is visible.
  const reloadSessions = debounce(loadSessions, 150);
  const reloadUser = debounce(loadUser, 150);
  ctx.on("presence", (ev) => {
    if (ev.uid !== uid || !user) return;
    user.status = ev.status;
    user.lastActiveAt = ev.lastActiveAt;
    if (!user.deactivatedAt) showProfile();
    reloadSessions();
  });
  ctx.on("revocation", (ev) => {
    if (ev.uid === uid || (ev.uids && ev.uids.includes(uid)) || (ev.scope === "issued_before" && !ev.uid)) {
      reloadSessions();
      if (ev.scope === "user") reloadUser();
    }
  });
  ctx.on("audit", (ev) => {
    if (ev.target === uid && ev.action.startsWith("user.")) reloadUser();
  });
  ctx.on("resync", () => { reloadUser(); reloadSessions(); });
  const timer = setInterval(() => { if (document.visibilityState === "visible") loadSessions(); }, 10000);
  ctx.onCleanup(() => clearInterval(timer));

  await loadUser();
  await loadSessions();
}
