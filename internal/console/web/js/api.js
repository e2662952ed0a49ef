// The REST API, as any client calls it: the app ID and the fullAccess key
// in the appId and apiKey headers, never in a URL.

/** The server's base URL: where the console is served from, before /console. */
export const root = new URL("../../", import.meta.url);

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/** What an error means for the admin, in words: what happened, what to do. */
export function explain(err) {
  switch (err && err.code) {
    case "AUTH_ERR_APIKEY_NOT_FOUND":
      return "This API key is not one of the app's keys (AUTH_ERR_APIKEY_NOT_FOUND). Check that you copied all 40 characters, or create a key with: callgate keys create --scope fullAccess.";
    case "AUTH_ERR_NO_ACCESS":
      return "This key is authOnly: it may only create users and auth tokens (AUTH_ERR_NO_ACCESS). The console needs a fullAccess key.";
    case "AUTH_ERR_INVALID_APPID":
      return "There is no app with this ID on this server (AUTH_ERR_INVALID_APPID). App IDs are lower case; serve --dev prints the dev app's.";
    case "AUTH_ERR_EMPTY_APPID":
      return "Enter the app ID.";
    case "AUTH_ERR_EMPTY_APIKEY":
      return "Enter the API key.";
    case "ERR_TOO_MANY_REQUESTS":
      return "Too many failed attempts from this address. Wait a minute, then try again.";
    case "ERR_SERVICE_UNAVAILABLE":
      return "The server cannot reach its database right now. Try again in a moment.";
    case "ERR_ORIGIN_NOT_ALLOWED":
      return err.message + " Add this origin to the app's corsOrigins in App settings.";
    case "ERROR_NETWORK":
      return "The server did not answer. Is callgate still running? The console retries when you try again.";
  }
  return (err && err.message) || String(err);
}

/** api(creds) is a client for one app with one key. */
export function api(creds) {
  async function call(method, path, body, opts = {}) {
    const headers = { appId: creds.appId, apiKey: creds.apiKey, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(new URL("v3" + path, root), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        signal: opts.signal,
      });
    } catch (e) {
      if (e && e.name === "AbortError") throw e;
      throw new ApiError(0, "ERROR_NETWORK", "The server could not be reached.");
    }
    let json = null;
    try {
      json = await res.json();
    } catch {
      throw new ApiError(res.status, "ERROR_BAD_ANSWER", `The server answered HTTP ${res.status} with something that is not callgate's JSON. Is a proxy in the way?`);
    }
    if (!res.ok || json.error) {
      const e = json.error || {};
      throw new ApiError(res.status, e.code || "ERROR_BAD_ANSWER", e.message || `HTTP ${res.status}`, e.details);
    }
    return json;
  }
  return {
    get: (path, opts) => call("GET", path, undefined, opts),
    post: (path, body = {}) => call("POST", path, body),
    put: (path, body = {}) => call("PUT", path, body),
    del: (path, body) => call("DELETE", path, body),
  };
}

/** qs({a: 1, b: ""}) is "?a=1" (empty values left out). */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null && v !== 0) u.set(k, String(v));
  const s = u.toString();
  return s ? "?" + s : "";
}

/** A uid (or id) for a path segment. */
export const seg = encodeURIComponent;
