// The admin event stream, GET /admin/events, read with fetch and a
// streamed body: EventSource cannot send the apiKey header, and the key
// must not go in a URL. Reconnects with backoff; says whether it is live.

import { root } from "./api.js";

/**
 * connect(creds, {onEvent, onState, onEnd}) follows the app's events.
 * onEvent(name, data) for each event; onState("live" | "connecting" |
 * "offline") as the connection changes; onEnd(reason) when the server ends
 * the stream for good (key_revoked). Returns {close()}.
 */
export function connect(creds, { onEvent, onState, onEnd }) {
  let closed = false;
  let ctrl = null;
  let backoff = 500;
  let everLive = false;
  let watchdog = null;

  const stop = () => {
    closed = true;
    clearTimeout(watchdog);
    if (ctrl) ctrl.abort();
  };

  async function run() {
    while (!closed) {
      onState(everLive ? "connecting" : "connecting");
      ctrl = new AbortController();
      let ended = null;
      try {
        const res = await fetch(new URL("admin/events", root), {
          headers: { appId: creds.appId, apiKey: creds.apiKey, Accept: "text/event-stream" },
          cache: "no-store",
          credentials: "omit",
          signal: ctrl.signal,
        });
        if (res.status === 401 || res.status === 403) {
          let code = "";
          try { code = (await res.json()).error.code; } catch { /* not JSON */ }
          onEnd("key_revoked", code);
          return;
        }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
        ended = await read(res.body);
      } catch (e) {
        if (closed) return;
      }
      if (closed) return;
      if (ended === "key_revoked") {
        onEnd("key_revoked");
        return;
      }
      onState("offline");
      await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)));
      backoff = Math.min(backoff * 2, 30000);
    }
  }

  // read parses the stream until it ends; it returns the reason of the
  // server's end event, if one came.
  async function read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let endReason = null;
    const alive = () => {
      // Heartbeats come every 15 s: silence for 45 s is a dead connection.
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctrl && ctrl.abort(), 45000);
    };
    alive();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      alive();
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let name = "", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!name) continue; // a heartbeat comment
        let parsed = {};
        try { parsed = JSON.parse(data); } catch { continue; }
        if (name === "ready") {
          backoff = 500;
          const again = everLive;
          everLive = true;
          onState("live");
          onEvent("ready", parsed);
          // Events may have passed while the stream was down: screens reload.
          if (again) onEvent("resync", {});
        } else if (name === "end") {
          endReason = parsed.reason;
        } else {
          onEvent(name, parsed);
        }
      }
    }
    clearTimeout(watchdog);
    return endReason;
  }

  run();
  return { close: stop };
}
