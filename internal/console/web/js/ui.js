// DOM helpers, formatting in the user's locale, dialogs and toasts.
// Text always goes in as text (never as HTML): names, uids and metadata
// are user data.

/** h("tag.class", {attrs, on*: handler}, ...children) builds an element. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected") el[k] = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** clear(el, ...children) replaces el's children. */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
export const uid = (p = "f") => `${p}-${++ids}`;

// ---- Formatting: numbers and times in the user's locale

const num = new Intl.NumberFormat();
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortThisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
const dateTimeSec = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export const fmtNum = (n) => num.format(n);

/** A unix time as a <time> element: the date and time, the exact one on hover. */
export function fmtTime(unix, { never = "—", relative = false } = {}) {
  if (!unix) return h("span.muted", never);
  const d = new Date(unix * 1000);
  const text = relative ? relTime(unix) : d.getFullYear() === new Date().getFullYear() ? shortThisYear.format(d) : dateTime.format(d);
  return h("time", { datetime: d.toISOString(), title: dateTimeSec.format(d) }, text);
}

export const fmtDate = (unix) => dateTime.format(new Date(unix * 1000));

/** "3 minutes ago", "in 2 days". */
export function relTime(unix) {
  const diff = unix - Date.now() / 1000;
  const abs = Math.abs(diff);
  for (const [unit, secs] of [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (abs >= secs) return rel.format(Math.round(diff / secs), unit);
  }
  return rel.format(Math.round(diff), "second");
}

/** A duration in seconds in words: "30 days", "1 hour, 30 minutes". */
export function fmtDuration(secs) {
  if (!secs) return "";
  const parts = [];
  for (const [unit, n] of [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]]) {
    if (secs >= n) {
      const q = Math.floor(secs / n);
      secs -= q * n;
      parts.push(new Intl.NumberFormat(undefined, { style: "unit", unit, unitDisplay: "long" }).format(q));
    }
    if (parts.length === 2) break;
  }
  return new Intl.ListFormat(undefined, { style: "narrow", type: "unit" }).format(parts);
}

/** Presence in words, never colour alone. */
export function presence(user) {
  if (user.deactivatedAt) return h("span.badge.danger", "deactivated");
  return user.status === "online" ? h("span.badge.online", "online") : h("span.badge.offline", "offline");
}

// ---- Toasts (announced by the live region they sit in)

export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  const t = h("div.toast", { class: kind === "error" ? "error" : "" }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// ---- Dialogs: native <dialog>, modal, focus in and back out

/**
 * openDialog({title, body, actions}) shows a modal dialog. body is nodes;
 * actions are [{label, kind, value, onClick}] (the last is the default).
 * It resolves with the value of the action taken (null for Escape), after
 * giving focus back to whatever had it.
 */
export function openDialog({ title, body, actions, initialFocus, onSubmit }) {
  const opener = document.activeElement;
  const titleId = uid("dlg");
  const dlg = h("dialog", { "aria-labelledby": titleId });
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      resolve(v);
    };
    const buttons = (actions || [{ label: "Close", value: null }]).map((a) =>
      h("button", {
        type: a.submit ? "submit" : "button",
        class: a.kind || "",
        onclick: a.submit ? undefined : async (e) => {
          e.preventDefault();
          if (a.onClick) {
            const r = await a.onClick();
            if (r === false) return; // the action keeps the dialog open
          }
          finish(a.value === undefined ? null : a.value);
        },
      }, a.label));
    const form = h("form", {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        if (!onSubmit) return;
        const submitBtn = buttons.find((b) => b.type === "submit");
        if (submitBtn) submitBtn.disabled = true;
        try {
          const r = await onSubmit();
          if (r !== false) finish(r === undefined ? true : r);
        } finally {
          if (submitBtn) submitBtn.disabled = false;
        }
      },
    }, h("h2", { id: titleId }, title), body, h("div.dialog-actions", buttons));
    dlg.append(form);
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    document.body.append(dlg);
    dlg.showModal();
    const first = initialFocus || form.querySelector("input:not([type=hidden]), select, textarea") || buttons[buttons.length - 1];
    if (first) first.focus();
  });
}

/** confirmAction asks before a destructive action. Resolves true to go on. */
export async function confirmAction({ title, message, confirm, danger = true }) {
  const v = await openDialog({
    title,
    body: h("div", (Array.isArray(message) ? message : [message]).map((m) => (m instanceof Node ? m : h("p", m)))),
    actions: [
      { label: "Cancel", value: false },
      { label: confirm, kind: danger ? "danger solid" : "primary", value: true },
    ],
  });
  return v === true;
}

/**
 * secretBox shows a secret once: a read-only field, a copy button, and a
 * warning that it will not be shown again.
 */
export function secretBox(label, secret) {
  const id = uid("secret");
  const input = h("input", { type: "text", id, readonly: true, value: secret, spellcheck: "false", autocomplete: "off" });
  const btn = h("button", { type: "button", onclick: () => copy(secret, input, btn) }, "Copy");
  return h("div.field",
    h("label", { for: id }, label),
    h("div.secret", input, btn),
    h("span.hint", "Shown once: copy it now. The server keeps only a hash and cannot show it again."));
}

export async function copy(text, input, btn) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard API (an insecure origin): select it for Ctrl+C.
    if (input) {
      input.focus();
      input.select();
      try { ok = document.execCommand("copy"); } catch { ok = false; }
    }
  }
  if (btn) {
    btn.textContent = ok ? "Copied" : "Press Ctrl+C";
    setTimeout(() => { btn.textContent = "Copy"; }, 2000);
  }
  toast(ok ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.");
}

// ---- Forms

/** field(label, control, hint) wraps a control with its label, hint and error slot. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const errId = uid("err");
  const hintId = hint ? uid("hint") : null;
  const err = h("span.error-text", { id: errId, hidden: true });
  const describedBy = [hintId, errId].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  const wrap = h("div.field", h("label", { for: control.id }, label), control,
    hint ? h("span.hint", { id: hintId }, hint) : null, err);
  wrap.setError = (msg) => {
    err.hidden = !msg;
    err.textContent = msg || "";
    if (msg) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  wrap.control = control;
  return wrap;
}

/**
 * showFieldErrors puts the server's per-field details under the fields
 * they name (fields: name → field wrapper); what names no field on the
 * form goes to the returned list. Focus moves to the first bad field.
 */
export function showFieldErrors(fields, details, match = (k) => k) {
  for (const f of Object.values(fields)) f.setError("");
  const rest = [];
  let first = null;
  const byField = {};
  for (const [k, v] of Object.entries(details || {})) {
    const name = match(k);
    if (fields[name]) (byField[name] ||= []).push(k === name ? v : `${k}: ${v}`);
    else rest.push(`${k}: ${v}`);
  }
  for (const [name, msgs] of Object.entries(byField)) {
    fields[name].setError(msgs.join("; "));
    first ||= fields[name].control;
  }
  if (first) first.focus();
  return rest;
}

/** notice(kind, title, ...lines) is a box for errors, warnings and empty states. */
export function notice(kind, title, ...lines) {
  return h("div.notice", { class: kind, role: kind === "error" ? "alert" : null }, h("strong", title), lines.map((l) => h("p", l)));
}

/** emptyState(title, ...lines) for an empty list. */
export function emptyState(title, ...lines) {
  return h("div.empty", h("strong", title), lines.map((l) => h("p", l)));
}

/** debounce(fn, ms) */
export function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** pager(meta, onPage) renders "1–25 of 130" with Previous/Next. */
export function pager(meta, onPage, noun = "items") {
  const p = meta && meta.pagination;
  if (!p || p.total === 0) return null;
  const from = (p.current_page - 1) * p.per_page + 1;
  const to = from + p.count - 1;
  return h("nav.pager", { "aria-label": "Pages" },
    h("p", `${fmtNum(from)}–${fmtNum(to)} of ${fmtNum(p.total)} ${noun}`),
    h("div.row",
      h("button", { type: "button", disabled: p.current_page <= 1, onclick: () => onPage(p.current_page - 1) }, "Previous"),
      h("span.muted.small", `Page ${fmtNum(p.current_page)} of ${fmtNum(Math.max(p.total_pages, 1))}`),
      h("button", { type: "button", disabled: p.current_page >= p.total_pages, onclick: () => onPage(p.current_page + 1) }, "Next")));
}

/** A table with a caption (for screen readers) and labelled cells (for narrow screens). */
export function table(caption, columns, rows) {
  return h("div.table-wrap",
    h("table.cards",
      h("caption.visually-hidden", caption),
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c.label ? c.label : h("span.visually-hidden", c.srLabel || ""))))),
      h("tbody", rows)));
}

/** A row of cells labelled by column (the label shows above each cell on narrow screens). */
export function tr(columns, cells, attrs) {
  return h("tr", attrs || {}, cells.map((c, i) => h("td", { "data-label": columns[i].label || null, class: columns[i].cls || "" }, c)));
}

/** Unix seconds from a datetime-local value (the user's local time). */
export function unixFromLocal(v) {
  if (!v) return 0;
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

/** A datetime-local value for unix seconds, in the user's local time. */
export function localFromUnix(unix) {
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
