// Type declarations for calls.js, the callgate JS SDK (CometChat Calls sign-in API).
// Wire format: docs/api.md; realtime: docs/realtime.md; errors: docs/errors.md.

/** A user: the logged-in one (with its authToken) or one whose presence changed. */
export interface User {
  uid: string;
  name: string;
  avatar: string;
  /** "online" or "offline" */
  status: string;
  /** The session's auth token; "" for other users. */
  authToken: string;
  link: string;
  role: string;
  metadata: Record<string, unknown>;
  /** Unix seconds; 0 when unknown. */
  lastActiveAt: number;
  /** Unix seconds when the auth token expires; 0 = never. */
  authTokenExpiresAt: number;
}

/** One of the logged-in user's sessions (listSessions). Times are unix seconds, 0 = never / not yet. */
export interface Session {
  id: string;
  platform: string;
  deviceId: string;
  userAgent: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  /** This client's own session. */
  current: boolean;
  /** It has a live realtime connection. */
  connected: boolean;
}

/** A Storage-like object (localStorage is one). */
export interface SessionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Settings for init. */
export interface CallAppSettings {
  /** Lowercase a-z, 0-9 and -; at most 64 characters. */
  appId: string;
  /** Lowercase a-z, 0-9 and -; at most 32 characters (us, eu, in, …). */
  region: string;
  /**
   * The callgate server, e.g. "https://calls.example.com" (a trailing "/v3/" or "/v3.0/"
   * is dropped; a path prefix is kept). Default: the server that served calls.js.
   */
  host?: string;
  /** Returns a fresh auth token from your backend; the SDK calls it before the current one expires. */
  tokenProvider?: () => Promise<string>;
  /** Which presence events to receive: "all", "none" or "roles:r1,r2". Default: the server's. */
  presence?: string;
  /** The WebSocket class for realtime; default globalThis.WebSocket (Node >= 22, browsers). */
  WebSocket?: new (url: string) => WebSocketLike;
  /** Where the session is kept; default localStorage, else memory. */
  storage?: SessionStorage;
  /** The fetch function; default globalThis.fetch. */
  fetch?: (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: unknown }) => Promise<{ status: number; text(): Promise<string> }>;
  /** false: no realtime connection (no presence, no live revocation). Default true. */
  autoEstablishSocketConnection?: boolean;
}

/** What the SDK uses of a WebSocket. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** The v4 builder: `new CometChatCalls.CallAppSettingsBuilder().setAppId(a).setRegion(r).setHost(h).build()`. */
export class CallAppSettingsBuilder {
  setAppId(appId: string): this;
  setRegion(region: string): this;
  setHost(host: string): this;
  setTokenProvider(provider: () => Promise<string>): this;
  setPresence(presence: string): this;
  autoEstablishSocketConnection(on: boolean): this;
  build(): CallAppSettings;
}

/** Every failure of the SDK. */
export class CometChatCallsError extends Error {
  constructor(code: string, description?: string, details?: Record<string, unknown>);
  /** An SDK code (ERROR_…) or the server's code (ERR_…, AUTH_ERR_…). */
  readonly errorCode: string;
  /** What went wrong; also the message. */
  readonly errorDescription: string;
  /** Per-field details, when the server gave them. */
  readonly details?: Record<string, unknown>;
}

export interface LoginListener {
  onLoginSuccess?(user: User): void;
  /** Every failed login (local checks included) and every failed token refresh. */
  onLoginFailure?(error: CometChatCallsError): void;
  onLogoutSuccess?(): void;
  onLogoutFailure?(error: CometChatCallsError): void;
  /** 60 s before the auth token expires (at 90 % of a shorter lifetime); unix seconds. */
  onAuthTokenWillExpire?(expiresAt: number): void;
}

export interface UserListener {
  onUserOnline?(user: User): void;
  onUserOffline?(user: User): void;
}

export interface ConnectionListener {
  /** The server registered the realtime connection. */
  onConnected?(): void;
  /** It dropped; the SDK reconnects with backoff. */
  onDisconnected?(): void;
  /** The server ended the session (never for this client's own logout); the session is already cleared. */
  onSessionRevoked?(reason: string): void;
}

export interface CallToken {
  token: string;
  sessionId: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface CometChatCallsSDK {
  /** Rejects with ERROR_INVALID_APP_SETTINGS for bad settings, ERROR_LOGIN_IN_PROGRESS during a login. */
  init(settings: CallAppSettings): Promise<{ success: true; error: null }>;
  login(uid: string, apiKey: string): Promise<User>;
  loginWithAuthToken(authToken: string): Promise<User>;
  getLoggedInUser(): User | null;
  isUserLoggedIn(): boolean;
  getUserAuthToken(): string | null;
  logout(): Promise<"Logout successful">;
  generateToken(sessionId: string, authToken?: string): Promise<CallToken>;
  listSessions(): Promise<Session[]>;
  logoutSession(id: string): Promise<void>;
  /** Resolves the number of sessions revoked. */
  logoutOtherSessions(): Promise<number>;
  addLoginListener(id: string, listener: LoginListener): void;
  removeLoginListener(id: string): void;
  addUserListener(id: string, listener: UserListener): void;
  removeUserListener(id: string): void;
  addConnectionListener(id: string, listener: ConnectionListener): void;
  removeConnectionListener(id: string): void;
  readonly CallAppSettingsBuilder: typeof CallAppSettingsBuilder;
  readonly CometChatCallsError: typeof CometChatCallsError;
  readonly VERSION: string;
}

export declare const CometChatCalls: CometChatCallsSDK;
export default CometChatCalls;
