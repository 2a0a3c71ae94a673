// The one parser of HTTP error bodies in the widget (the Python twin is
// rt_jupyter.protocol.errors.error_from_http): whatever a service answers — the OpenAI and Azure
// shapes, plain text, an HTML error page — becomes a Realtime-API-shaped error object with a
// short message that never carries a key.

/** The longest `message` returned (characters, after scrubbing). */
export const MAX_ERROR_MESSAGE_CHARS = 2000;
/** Bodies longer than this (characters) are not parsed as JSON, only read as text. */
const MAX_PARSED_BODY = 1 << 20;
/** Text bodies are read this far before scrubbing (far past the message cap). */
const MAX_TEXT_BODY = 64 * 1024;

/** The error object of an HTTP error answer, shaped like the Realtime API's `error` event. */
export interface HttpError {
  type: string;
  code: string | null;
  /** `""` when the body says nothing. */
  message: string;
  param: string | null;
  /** rt_jupyter's own field (the server extension's mint errors): what to do about it. */
  hint?: string;
}

const KEYLIKE = /\b(?:sk|ek|rk|sess)[-_][A-Za-z0-9\-_*.]{3,}/g;
const BEARER = /\b(bearer\s+)[A-Za-z0-9\-_.~+/=]{8,}/gi;
// Linear patterns only (no lazy scan to a closing tag): bodies come from anyone upstream.
const TITLE = /<title[^<>]*>([^<]*)/i;
const SCRIPT = /<(?:script|style)\b[^<>]*>[^<]*/gi;
const TAG = /<[^<>]*>/g;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** `text` without any of `secrets`, anything that looks like an API key, or a bearer token. */
export function scrubSecrets(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  for (const secret of secrets) {
    if (secret) text = text.split(secret).join("[redacted]");
  }
  return text.replace(KEYLIKE, "[redacted]").replace(BEARER, "$1[redacted]");
}

function httpErrorType(status: number): string {
  if (status >= 500) return "server_error";
  if (status === 429) return "rate_limit_error";
  return "invalid_request_error";
}

function textOf(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value.trim();
  return JSON.stringify(value) ?? "";
}

/** The message of a decoded JSON body, and the object holding `type`/`code`/`param`/`hint`. */
function fields(data: unknown): [string, Record<string, unknown>] {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return [textOf(data), {}];
  const obj = data as Record<string, unknown>;
  if (Object.values(obj).every((v) => v === null || v === undefined)) return ["", {}];
  const err = obj.error;
  if (err !== null && typeof err === "object" && !Array.isArray(err)) {
    const inner = (err as Record<string, unknown>).message;
    return [textOf(inner ?? err), err as Record<string, unknown>];
  }
  if (typeof err === "string" && err.trim()) return [err.trim(), obj];
  for (const key of ["message", "detail", "error_description"]) {
    if (obj[key] !== null && obj[key] !== undefined) return [textOf(obj[key]), obj];
  }
  return [textOf(obj), obj];
}

function htmlText(text: string): string {
  const title = TITLE.exec(text);
  const plain = title && title[1].trim() ? title[1] : text.replace(SCRIPT, " ").replace(TAG, " ");
  return plain.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const n = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function field(value: unknown, secrets: readonly string[]): string | null {
  if (typeof value === "number" && Number.isInteger(value)) value = String(value);
  if (typeof value !== "string" || value === "") return null;
  return scrubSecrets(value, secrets).slice(0, 200);
}

/**
 * The error object for an HTTP error answer. `body` is the raw text (tried as JSON) or an
 * already-decoded JSON value; `contentType` helps spot HTML pages. The message is scrubbed of
 * `secrets` and anything key-like *before* it is cut to {@link MAX_ERROR_MESSAGE_CHARS}.
 */
export function errorFromHttp(
  status: number,
  body: unknown,
  contentType = "",
  secrets: readonly (string | null | undefined)[] = [],
): HttpError {
  const hidden = secrets.filter((s): s is string => !!s);
  let message: string | null = null;
  let found: Record<string, unknown> = {};
  if (typeof body === "string" || body === null || body === undefined) {
    let text = body ?? "";
    const stripped = text.trim();
    if ('{["'.includes(stripped[0] ?? "x") && stripped.length <= MAX_PARSED_BODY) {
      try {
        [message, found] = fields(JSON.parse(stripped));
      } catch {
        message = null;
      }
    }
    if (message === null) {
      if (text.length > MAX_TEXT_BODY) {
        // scrub past the cut: no key is split by it
        text = scrubSecrets(text.slice(0, MAX_TEXT_BODY + 8192), hidden).slice(0, MAX_TEXT_BODY);
      }
      if (/html/i.test(contentType) || stripped[0] === "<") text = htmlText(text);
      message = text.replace(/\s+/g, " ").trim();
    }
  } else {
    [message, found] = fields(body);
  }
  message = scrubSecrets(message, hidden);
  if (message.length > MAX_ERROR_MESSAGE_CHARS) {
    message = `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1).trimEnd()}…`;
  }
  const out: HttpError = {
    type: field(found.type, hidden) ?? httpErrorType(status),
    code: field(found.code, hidden),
    message,
    param: field(found.param, hidden),
  };
  const hint = field(found.hint, hidden);
  if (hint) out.hint = hint;
  return out;
}
