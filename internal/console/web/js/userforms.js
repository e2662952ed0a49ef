// The user actions both user screens share: create, edit, deactivate,
// reactivate, delete, and minting an auth token shown once.

import { explain, seg } from "./api.js";
import { h, field, openDialog, confirmAction, secretBox, showFieldErrors, notice, clear, toast } from "./ui.js";

/** userDialog creates a user (existing = null) or edits one; resolves the user or null. */
export async function userDialog(ctx, existing) {
  const u = existing || {};
  const f = {};
  if (!existing) {
    f.uid = field("UID", h("input", { type: "text", spellcheck: "false", autocapitalize: "none", autocomplete: "off", required: true }),
      "1–100 characters: letters, digits, _ and -. Stored in lower case.");
  }
  f.name = field("Name", h("input", { type: "text", value: u.name || "", required: true, autocomplete: "off" }));
  f.avatar = field("Avatar URL", h("input", { type: "url", value: u.avatar || "", placeholder: "https://…", autocomplete: "off" }));
  f.link = field("Profile link", h("input", { type: "url", value: u.link || "", placeholder: "https://…", autocomplete: "off" }));
  f.role = field("Role", h("input", { type: "text", value: u.role || "", placeholder: "default", autocomplete: "off" }));
  f.tags = field("Tags", h("input", { type: "text", value: (u.tags || []).join(", "), autocomplete: "off" }), "Separated by commas.");
  f.metadata = field("Metadata", h("textarea", { rows: "4", spellcheck: "false" }, u.metadata ? JSON.stringify(u.metadata, null, 2) : ""),
    "A JSON object, at most 5 KB.");
  const withToken = h("input", { type: "checkbox" });
  const errBox = h("div");
  let created = null;
  const result = await openDialog({
    title: existing ? `Edit ${existing.uid}` : "Create a user",
    body: [
      h("div.grid-2", f.uid || null, f.name, f.role, f.avatar, f.link, f.tags),
      f.metadata,
      existing ? null : h("label.check", withToken, "Also mint an auth token for this user (shown once)"),
      errBox,
    ],
    actions: [{ label: "Cancel", value: null }, { label: existing ? "Save" : "Create user", kind: "primary", submit: true }],
    onSubmit: async () => {
      clear(errBox);
      const body = {};
      const val = (k) => f[k].control.value.trim();
      if (!existing) body.uid = val("uid");
      for (const k of ["name", "avatar", "link", "role"]) {
        if (!existing || val(k) !== (u[k] || "")) body[k] = val(k);
      }
      if (!existing && !body.role) delete body.role;
      if (!existing && !body.avatar) delete body.avatar;
      if (!existing && !body.link) delete body.link;
      const tags = val("tags") ? val("tags").split(",").map((t) => t.trim()).filter(Boolean) : [];
      if (!existing ? tags.length : tags.join(",") !== (u.tags || []).join(",")) body.tags = tags;
      const meta = val("metadata");
      if (meta) {
        let parsed;
        try { parsed = JSON.parse(meta); } catch { parsed = undefined; }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
          showFieldErrors(f, { metadata: "must be a JSON object, e.g. {\"plan\": \"pro\"}" });
          return false;
        }
        if (!existing || JSON.stringify(parsed) !== JSON.stringify(u.metadata || {})) body.metadata = parsed;
      } else if (existing && u.metadata && Object.keys(u.metadata).length) {
        body.metadata = {};
      }
      if (!existing && withToken.checked) body.withAuthToken = true;
      if (existing && !Object.keys(body).length) {
        toast("Nothing changed.");
        return true;
      }
      try {
        const res = existing
          ? await ctx.api.put(`/users/${seg(existing.uid)}`, body)
          : await ctx.api.post("/users", body);
        created = res.data;
        return true;
      } catch (e) {
        const rest = showFieldErrors(f, e.details, (k) => k.replace(/\[\d+\]$/, ""));
        if (rest.length || !Object.keys(e.details || {}).length) clear(errBox, notice("error", explain(e), ...rest));
        return false;
      }
    },
  });
  if (!result || !created) return null;
  toast(existing ? `Saved ${created.uid}.` : `Created ${created.uid}.`);
  if (created.authToken) await showToken(created.uid, created.authToken);
  return created;
}

/** mintToken asks for the device, mints an auth token and shows it once. */
export async function mintToken(ctx, uid) {
  const f = {
    platform: field("Platform", h("input", { type: "text", placeholder: "web, ios, android…", autocomplete: "off" }), "Optional: shown in the session list."),
    deviceId: field("Device ID", h("input", { type: "text", autocomplete: "off" }), "Optional."),
  };
  const errBox = h("div");
  let tok = null;
  await openDialog({
    title: `Mint an auth token for ${uid}`,
    body: [h("p.muted", "A new session for this user, as your backend would create it. The token is shown once."), f.platform, f.deviceId, errBox],
    actions: [{ label: "Cancel", value: null }, { label: "Mint token", kind: "primary", submit: true }],
    onSubmit: async () => {
      clear(errBox);
      try {
        const body = {};
        if (f.platform.control.value.trim()) body.platform = f.platform.control.value.trim();
        if (f.deviceId.control.value.trim()) body.deviceId = f.deviceId.control.value.trim();
        tok = (await ctx.api.post(`/users/${seg(uid)}/auth_tokens`, body)).data;
        return true;
      } catch (e) {
        const rest = showFieldErrors(f, e.details);
        if (rest.length || !Object.keys(e.details || {}).length) clear(errBox, notice("error", explain(e), ...rest));
        return false;
      }
    },
  });
  if (tok) await showToken(uid, tok.authToken);
  return tok;
}

export function showToken(uid, token) {
  return openDialog({
    title: `Auth token for ${uid}`,
    body: [secretBox("Auth token", token), h("p.muted.small", "Hand it to the client, which starts its session with it (loginWithAuthToken). Revoke it from the user's sessions.")],
    actions: [{ label: "Done", kind: "primary", value: true }],
  });
}

export async function deactivate(ctx, uid) {
  const ok = await confirmAction({
    title: `Deactivate ${uid}?`,
    message: [
      "Their sessions end now: every open connection is closed and every auth token stops working.",
      "The uid stays taken, and you can reactivate the user later (their old sessions do not come back).",
    ],
    confirm: "Deactivate",
  });
  if (!ok) return false;
  try {
    await ctx.api.put(`/users/${seg(uid)}`, { deactivated: true });
    toast(`Deactivated ${uid}.`);
    return true;
  } catch (e) {
    toast(explain(e), "error");
    return false;
  }
}

export async function reactivate(ctx, uid) {
  try {
    await ctx.api.put(`/users/${seg(uid)}`, { deactivated: false });
    toast(`Reactivated ${uid}.`);
    return true;
  } catch (e) {
    toast(explain(e), "error");
    return false;
  }
}

export async function removeUser(ctx, uid) {
  const ok = await confirmAction({
    title: `Delete ${uid}?`,
    message: [
      "The user and all their auth tokens are deleted now, and every open connection of theirs is closed.",
      "This cannot be undone; the uid becomes free for a new user. To keep the record, deactivate instead.",
    ],
    confirm: "Delete user",
  });
  if (!ok) return false;
  try {
    await ctx.api.del(`/users/${seg(uid)}`);
    toast(`Deleted ${uid}.`);
    return true;
  } catch (e) {
    toast(explain(e), "error");
    return false;
  }
}
