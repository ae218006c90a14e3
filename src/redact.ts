/**
 * Secret redaction for everything Tasteloop logs or serves: pure functions, no I/O.
 *
 * Two complementary layers:
 *  - by structure: `redactDeep` walks a value (plain objects, arrays, Errors with their own properties
 *    and causes, Headers, Maps, fetch Request/Response, Node HTTP requests/responses) and replaces
 *    every value under a secret-looking key (authorization, token, secret, password, api key, cookie,
 *    signature, private key…; any case, any separator) with "[redacted]", at any depth, without
 *    touching the caller's objects;
 *  - by shape: `redactSecrets` masks what is recognisable in free text — credentials and key-like
 *    query parameters in URLs (`redactUrl`), `Bearer …` / `Basic …` values, `name=value` pairs whose
 *    name says secret, and known token forms (OpenAI, Slack, Replicate, Discord, Hugging Face, GitHub,
 *    JWTs, PEM private keys, Discord webhook/interaction tokens, Slack webhook URLs).
 *
 * Patterns never match a double quote or a backslash, so `redactSecrets` is also safe on a finished
 * JSON log line (the logger's last pass).
 */

export const REDACTED = '[redacted]';

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Normalised key names that are secret as a whole word. */
// Not `pwd`: that is the shell's working directory (PWD), whose value is in every stack trace.
const SECRET_KEYS_EXACT = new Set(['auth', 'pass', 'passwd', 'sig', 'cookie', 'cookies', 'setcookie', 'credential', 'credentials', 'dsn']);
/** Normalised key endings that make a key secret: DISCORD_TOKEN, signingSecret, x-api-key, client_secret… */
const SECRET_KEY_SUFFIXES = [
  'authorization',
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'apikey',
  'privatekey',
  'accesskey',
  'cookie',
  'signature',
  'credentials',
  'sessionid',
];

/**
 * Whether values under this key are secrets: authorization, token, secret, password, api-key/apiKey/
 * api_key, cookie/set-cookie, x-api-key, signing secret, client_secret, access_token, refresh_token,
 * private_key… Case-insensitive, any separator. `tokens` (a count) and `key` alone (ids) are not.
 */
export function isSecretKey(key: string): boolean {
  const n = normalizeKey(key);
  if (n === '') return false;
  if (SECRET_KEYS_EXACT.has(n)) return true;
  return SECRET_KEY_SUFFIXES.some((s) => n.endsWith(s));
}

/** Query/fragment parameters whose value is a credential (besides every `isSecretKey` name). */
const SECRET_PARAMS = new Set(['apikey', 'key', 'token', 'accesstoken', 'sig', 'signature', 'secret', 'password', 'auth', 'code']);

function isSecretParam(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    /* keep as is */
  }
  return SECRET_PARAMS.has(normalizeKey(decoded)) || isSecretKey(decoded);
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/** Token forms recognisable on their own, wherever they appear. */
const TOKEN_PATTERNS: RegExp[] = [
  /-----BEGIN[A-Z ]*PRIVATE KEY-----[^"]*?-----END[A-Z ]*PRIVATE KEY-----/g, // PEM private key
  /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}/g, // OpenAI (sk-, sk-proj-, sk-svcacct-…)
  /(?<![A-Za-z0-9])xox[a-z](?:\.xox[a-z])?-[0-9A-Za-z-]{10,}/g, // Slack bot/user/config/refresh tokens
  /(?<![A-Za-z0-9])xapp-[0-9A-Za-z-]{10,}/g, // Slack app-level tokens
  /(?<![A-Za-z0-9])r8_[A-Za-z0-9]{16,}/g, // Replicate
  /(?<![A-Za-z0-9_-])[MNO][A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,7}\.[A-Za-z0-9_-]{25,}/g, // Discord bot token (base64 of the id: M, N or O)
  /(?<![A-Za-z0-9])mfa\.[A-Za-z0-9_-]{20,}/g, // Discord MFA user token
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, // JWT
  /(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}/g, // Hugging Face
  /(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g, // GitHub
  /(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}/g, // Google API key
  /(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])/g, // AWS access key id
  /(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=]{16,}/g, // webhook signing secret (Replicate, Svix)
];

/** Tokens that sit in a URL path: Discord webhook and interaction tokens, Slack webhook/response URLs. */
const PATH_TOKEN_PATTERNS: [RegExp, string][] = [
  [/(\/(?:webhooks|interactions)\/\d{5,}\/)[A-Za-z0-9_.:-]{20,}/g, `$1${REDACTED}`],
  [/(hooks\.slack(?:-gov)?\.com\/[A-Za-z]+\/)[^\s"'<>\\?#]+/g, `$1${REDACTED}`],
];

/** `scheme://…` up to whitespace, a quote, a backslash or an angle bracket. */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>\\`]+/g;

/** A secret-sounding name, as in SLACK_SIGNING_SECRET=…, "api_key": "…", password: … */
const KV_NAME = String.raw`[A-Za-z0-9_.-]*?(?:token|secret|password|passwd|api[_-]?key|private[_-]?key|access[_-]?key|signature)`;
const KV_PATTERN = new RegExp(String.raw`(\b${KV_NAME}\\?["']?\s*[:=]\s*\\?["']?)(?!\[redacted\])[^\s"'&,;)}\\]+`, 'gi');
/** Authorization / Cookie header lines: the value runs to the end of the line. */
const HEADER_LINE = /(\b(?:proxy-)?authorization|\b(?:set-)?cookie)(\\?["']?\s*:\s*\\?["']?)(?!\[redacted\])[^\s"'\\][^\r\n"'\\]*/gi;
const BEARER = /\b(Bearer)\s+(?!\[redacted\])[^\s"',;\\]+/gi;
const BOT = /\b(Bot)\s+[A-Za-z0-9_.-]{30,}/g;
const BASIC = /\b(Basic)\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/g;

function maskBasic(match: string, scheme: string, b64: string): string {
  try {
    return Buffer.from(b64, 'base64').toString('utf8').includes(':') ? `${scheme} ${REDACTED}` : match;
  } catch {
    return match;
  }
}

function maskTokens(text: string): string {
  let out = text;
  for (const re of TOKEN_PATTERNS) out = out.replace(re, REDACTED);
  for (const [re, to] of PATH_TOKEN_PATTERNS) out = out.replace(re, to);
  return out;
}

/**
 * A URL fit to show: credentials (`user:pass@`) become `[redacted]@`, key-like query and fragment
 * parameters (api-key, api_key, apikey, key, token, access_token, sig, signature, secret, password,
 * auth, client_secret, …) get `[redacted]` values, and token forms in the path are masked. Works on
 * unparseable input too (it never throws and keeps the rest of the text as it was).
 */
export function redactUrl(url: string): string {
  if (typeof url !== 'string' || url === '') return url;
  // user:password@ (or a lone user name long enough to be a key, as some APIs take it); "user@" alone stays.
  let out = url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#\s]*)@/, (m, scheme: string, userinfo: string) =>
    userinfo.includes(':') || userinfo.length >= 16 ? `${scheme}${REDACTED}@` : m,
  );
  // No (well-formed) scheme: "user:pass@host/v1", "http//user:pass@host".
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(out)) out = out.replace(/^([^\s@]*?)[^\s/:@]*:[^\s/@]*@/, `$1${REDACTED}@`);
  out = out.replace(/([?&;#])([^=&#;?\s]+)=([^&#;\s]*)/g, (m, sep: string, name: string, value: string) =>
    value !== '' && value !== REDACTED && isSecretParam(name) ? `${sep}${name}=${REDACTED}` : m,
  );
  return maskTokens(out);
}

/**
 * Masks every recognisable secret in a piece of text: URLs (see `redactUrl`), `Bearer …`, `Basic …`
 * (when it decodes to user:password), authorization/cookie header values, `name=value` / `"name": "value"`
 * pairs whose name says secret, and known token forms. Ordinary text is returned unchanged.
 */
export function redactSecrets(text: string): string {
  if (typeof text !== 'string' || text === '') return text;
  let out = text.replace(URL_IN_TEXT, (u) => redactUrl(u));
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  out = out.replace(BOT, `$1 ${REDACTED}`);
  out = out.replace(BASIC, maskBasic);
  out = out.replace(HEADER_LINE, `$1$2${REDACTED}`);
  out = out.replace(KV_PATTERN, `$1${REDACTED}`);
  return maskTokens(out);
}

// ---------------------------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------------------------

export interface RedactOptions {
  /** Nesting levels walked; deeper values become "[Object]" / "[Array]". Default 10. */
  maxDepth?: number;
}

const objectTag = (v: object): string => Object.prototype.toString.call(v).slice(8, -1);

export function isErrorLike(v: unknown): v is Error {
  return v instanceof Error || (typeof v === 'object' && v !== null && objectTag(v) === 'Error');
}

function className(v: object): string {
  const ctor = (v as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name ? ctor.name : objectTag(v);
}

function causeOf(err: unknown): unknown {
  try {
    return (err as { cause?: unknown }).cause;
  } catch {
    return undefined;
  }
}

/** "outer: inner: innermost", as pino's own error serializer writes it. */
function messageWithCauses(err: Error): string {
  const seen = new Set<unknown>();
  let msg = '';
  for (let e: unknown = err; isErrorLike(e) && !seen.has(e); e = causeOf(e)) {
    seen.add(e);
    const m = typeof e.message === 'string' ? e.message : '';
    // A wrapper that already quotes its cause ("connection failed: Connection error.") is not repeated.
    msg = msg === '' ? m : m === '' || msg.includes(m) ? msg : `${msg}: ${m}`;
  }
  return msg;
}

function stackWithCauses(err: Error): string {
  const seen = new Set<unknown>();
  let stack = '';
  for (let e: unknown = err; isErrorLike(e) && !seen.has(e); e = causeOf(e)) {
    seen.add(e);
    const s = typeof e.stack === 'string' ? e.stack : `${e.name}: ${e.message}`;
    stack = stack === '' ? s : `${stack}\ncaused by: ${s}`;
  }
  return stack;
}

interface Walk {
  maxDepth: number;
  /** Objects on the current path (cycle guard). */
  ancestors: Set<object>;
}

function safeGet(obj: object, key: PropertyKey): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch (err) {
    return `[unreadable: ${(err as Error)?.message ?? 'getter threw'}]`;
  }
}

function walkEntries(entries: Iterable<[unknown, unknown]>, depth: number, w: Walk): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const key = String(k);
    out[key] = isSecretKey(key) && isRedactable(v) ? REDACTED : walk(v, depth + 1, w, key);
  }
  return out;
}

function isRedactable(v: unknown): boolean {
  return v !== undefined && v !== null && typeof v !== 'boolean';
}

function headersObject(
  h: { forEach: (cb: (value: string, key: string) => void) => void },
  depth: number,
  w: Walk,
): Record<string, unknown> {
  const entries: [string, string][] = [];
  try {
    h.forEach((value, key) => entries.push([key, value]));
  } catch {
    /* not iterable after all */
  }
  return walkEntries(entries, depth, w);
}

const isFetchHeaders = (v: object): v is Headers => typeof Headers !== 'undefined' && v instanceof Headers;
const isFetchRequest = (v: object): v is Request => typeof Request !== 'undefined' && v instanceof Request;
const isFetchResponse = (v: object): v is Response => typeof Response !== 'undefined' && v instanceof Response;
const isEmitter = (v: object): boolean =>
  typeof (v as { on?: unknown }).on === 'function' && typeof (v as { emit?: unknown }).emit === 'function';

/** Node's http.ClientRequest (what axios puts in `err.request`): method, host, path, headers — never `_header`. */
function nodeRequestSummary(v: object, depth: number, w: Walk): Record<string, unknown> | undefined {
  const r = v as { getHeaders?: unknown; method?: unknown; path?: unknown; host?: unknown; protocol?: unknown };
  if (typeof r.getHeaders !== 'function' || typeof r.method !== 'string') return undefined;
  let headers: unknown = {};
  try {
    headers = (r.getHeaders as () => unknown).call(v);
  } catch {
    /* ignore */
  }
  return {
    type: className(v),
    method: r.method,
    protocol: typeof r.protocol === 'string' ? r.protocol : undefined,
    host: typeof r.host === 'string' ? r.host : undefined,
    path: typeof r.path === 'string' ? redactSecrets(r.path) : undefined,
    headers: walk(headers, depth + 1, w, 'headers'),
  };
}

/** Node's http.IncomingMessage: status, url and headers — never the socket. */
function nodeResponseSummary(v: object, depth: number, w: Walk): Record<string, unknown> | undefined {
  const r = v as { statusCode?: unknown; statusMessage?: unknown; headers?: unknown; url?: unknown; method?: unknown };
  if (typeof r.headers !== 'object' || r.headers === null || (typeof r.statusCode !== 'number' && typeof r.method !== 'string'))
    return undefined;
  return {
    type: className(v),
    method: typeof r.method === 'string' ? r.method : undefined,
    url: typeof r.url === 'string' && r.url ? redactSecrets(r.url) : undefined,
    statusCode: typeof r.statusCode === 'number' ? r.statusCode : undefined,
    statusMessage: typeof r.statusMessage === 'string' ? r.statusMessage : undefined,
    headers: walk(r.headers, depth + 1, w, 'headers'),
  };
}

function walkError(err: Error, depth: number, w: Walk, asCause: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { type: className(err) };
  out.message = redactSecrets(asCause ? (typeof err.message === 'string' ? err.message : '') : messageWithCauses(err));
  // A cause's stack is already in its parent's ("caused by: …").
  if (!asCause) out.stack = redactSecrets(stackWithCauses(err));
  const keys = new Set<string>();
  for (const k in err) keys.add(k);
  for (const k of Object.getOwnPropertyNames(err)) keys.add(k);
  keys.delete('stack');
  keys.delete('message');
  for (const key of keys) {
    if (key in out && key !== 'type') continue;
    const v = safeGet(err, key);
    if (v === undefined || typeof v === 'function') continue;
    if (key === 'errors' && Array.isArray(v)) {
      out.aggregateErrors = walk(v, depth + 1, w, key);
      continue;
    }
    const outKey = key === 'type' ? 'errorType' : key; // keep `type` for the class name
    if (isSecretKey(key) && isRedactable(v)) out[outKey] = REDACTED;
    else if (key === 'cause' && isErrorLike(v))
      out.cause = w.ancestors.has(v) ? '[Circular]' : withAncestor(v, w, () => walkError(v, depth + 1, w, true));
    else out[outKey] = walk(v, depth + 1, w, key);
  }
  return out;
}

function withAncestor<T>(v: object, w: Walk, fn: () => T): T {
  w.ancestors.add(v);
  try {
    return fn();
  } finally {
    w.ancestors.delete(v);
  }
}

function walk(value: unknown, depth: number, w: Walk, parentKey: string | undefined): unknown {
  switch (typeof value) {
    case 'string':
      return redactSecrets(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (w.ancestors.has(obj)) return '[Circular]';
  if (depth > w.maxDepth) return Array.isArray(obj) ? '[Array]' : `[${className(obj)}]`;

  if (isErrorLike(obj)) return withAncestor(obj, w, () => walkError(obj, depth, w, false));
  if (Buffer.isBuffer(obj) || ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer)
    return `[${className(obj)} ${(obj as ArrayBufferLike).byteLength} bytes]`;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (obj instanceof URL) return redactUrl(obj.href);
  if (obj instanceof URLSearchParams) return redactUrl(`?${obj.toString()}`).slice(1);
  if (obj instanceof RegExp) return String(obj);
  if (obj instanceof Promise || obj instanceof WeakMap || obj instanceof WeakSet) return `[${className(obj)}]`;

  return withAncestor(obj, w, () => {
    if (Array.isArray(obj)) {
      const out = obj.map((v) => walk(v, depth + 1, w, parentKey));
      // Node's rawHeaders: ['Authorization', 'Bearer …', 'Cookie', '…']
      if (parentKey !== undefined && /headers$/i.test(parentKey)) {
        for (let i = 0; i + 1 < obj.length; i += 2) if (typeof obj[i] === 'string' && isSecretKey(obj[i] as string)) out[i + 1] = REDACTED;
      }
      return out;
    }
    if (obj instanceof Map) return walkEntries(obj.entries(), depth, w);
    if (obj instanceof Set) return [...obj].map((v) => walk(v, depth + 1, w, parentKey));
    if (isFetchHeaders(obj)) return headersObject(obj, depth, w);
    if (isFetchRequest(obj))
      return { type: 'Request', method: obj.method, url: redactUrl(obj.url), headers: headersObject(obj.headers, depth + 1, w) };
    if (isFetchResponse(obj))
      return {
        type: 'Response',
        status: obj.status,
        statusText: obj.statusText,
        url: redactUrl(obj.url),
        headers: headersObject(obj.headers, depth + 1, w),
      };
    if (isEmitter(obj)) {
      // Sockets, agents, clients, streams: their internals hold raw headers and connections.
      return nodeRequestSummary(obj, depth, w) ?? nodeResponseSummary(obj, depth, w) ?? `[${className(obj)}]`;
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      let json: unknown;
      try {
        json = (toJSON as () => unknown).call(obj);
      } catch {
        json = undefined;
      }
      if (json !== obj) return walk(json, depth, w, parentKey);
    }
    // Headers-like objects that are not fetch Headers (undici's, a polyfill's): read them through forEach.
    if (objectTag(obj) === 'Headers' && typeof (obj as { forEach?: unknown }).forEach === 'function') {
      return headersObject(obj as unknown as Headers, depth, w);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      const v = safeGet(obj, key);
      if (isSecretKey(key) && isRedactable(v)) out[key] = REDACTED;
      else {
        const r = walk(v, depth + 1, w, key);
        if (r !== undefined) out[key] = r;
      }
    }
    return out;
  });
}

/**
 * A redacted, JSON-safe copy of `value`: secret-keyed values become "[redacted]" at any depth, every
 * string goes through `redactSecrets`, Errors become `{ type, message, stack, …own properties, cause }`
 * (request/response/config/headers/data/body included, redacted), Headers and Maps become objects,
 * cycles become "[Circular]". The input is never modified.
 */
export function redactDeep(value: unknown, opts: RedactOptions = {}): unknown {
  return walk(value, 0, { maxDepth: opts.maxDepth ?? 10, ancestors: new Set() }, undefined);
}

// ---------------------------------------------------------------------------------------------
// Known values
// ---------------------------------------------------------------------------------------------

/** Shorter values are not masked by value (too likely to be ordinary words); patterns still apply. */
const MIN_KNOWN_SECRET_LENGTH = 6;

/**
 * The secret values configured in an environment: every variable whose name is secret-looking
 * (DISCORD_TOKEN, SLACK_SIGNING_SECRET, OPENAI_API_KEY, HF_TOKEN…) and, from every URL-valued
 * variable (DATABASE_URL, OPENAI_BASE_URL, HF_ENDPOINT…), its password and secret query values.
 * The logger masks these wherever they appear, even where no pattern or key name would give them away
 * (an opaque key echoed in an upstream error message).
 */
export function secretsFromEnv(env: Record<string, string | undefined>): string[] {
  const out = new Set<string>();
  const add = (v: string | undefined, min = MIN_KNOWN_SECRET_LENGTH) => {
    const t = v?.trim();
    if (t && t.length >= min) out.add(t);
  };
  for (const [name, raw] of Object.entries(env)) {
    if (typeof raw !== 'string' || raw.trim() === '') continue;
    // A placeholder key for a local server ("ollama", "none") is not worth masking every mention of.
    if (isSecretKey(name)) add(raw, 10);
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim())) continue;
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      continue;
    }
    for (const v of [u.password, safeDecode(u.password)]) add(v);
    for (const [k, v] of u.searchParams) if (isSecretParam(k)) add(v);
  }
  return [...out];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Replaces every occurrence of the given values (as written, and as they appear inside a JSON
 * string) with "[redacted]". Longest first, so a value containing another is masked whole.
 */
export function maskValues(text: string, values: readonly string[]): string {
  if (typeof text !== 'string' || values.length === 0) return text;
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) {
    if (v.length < MIN_KNOWN_SECRET_LENGTH) continue;
    const forms = new Set([v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v)]);
    for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
  }
  return out;
}
