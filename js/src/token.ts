// Ephemeral keys. First from the rt_jupyter server extension (POST {baseUrl}rt-jupyter/session,
// Jupyter auth + XSRF from the `_xsrf` cookie); where no extension answers (VS Code, Colab,
// Voilà) the kernel mints one over the widget's comm. The key is only ever held in memory.

import { errorFromHttp } from "./errors";
import { Token, WidgetError } from "./types";

export interface MintRequest {
  model?: string;
  session: Record<string, unknown>;
}

interface PageConfig {
  baseUrl: string;
  token?: string;
}

/** The Jupyter page config (`<script id="jupyter-config-data">`), if this is a Jupyter page. */
export function jupyterPage(): PageConfig | null {
  const el = document.getElementById("jupyter-config-data");
  if (!el?.textContent) return null;
  try {
    const data = JSON.parse(el.textContent) as Record<string, unknown>;
    const baseUrl = typeof data.baseUrl === "string" ? data.baseUrl : null;
    if (baseUrl === null) return null;
    const token = typeof data.token === "string" && data.token ? data.token : undefined;
    return { baseUrl: baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`, token };
  } catch {
    return null;
  }
}

function cookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function errorFrom(status: number, body: unknown, where: string, contentType = ""): WidgetError {
  const err = errorFromHttp(status, body, contentType);
  const message = err.message || undefined;
  const code = err.code ?? `http_${status}`;
  if (status === 401 || status === 403) {
    if (code === "upstream_auth") {
      return new WidgetError("upstream_auth", message ?? "The service refused the API key.", {
        status,
        hint: err.hint,
      });
    }
    return new WidgetError(
      "not_authorized",
      `The Jupyter server refused to give this page a session key (HTTP ${status}). Reload the page or log in to Jupyter again.`,
      { status },
    );
  }
  if (status === 429) {
    return new WidgetError("rate_limited", message ?? "Too many session keys requested; wait a minute.", {
      status,
      hint: err.hint,
    });
  }
  if (status === 502 || status === 504) {
    return new WidgetError("upstream_unreachable", message ?? `The realtime service could not be reached (${where}).`, {
      status,
      hint: err.hint,
    });
  }
  return new WidgetError(code, message ?? `Getting a session key failed (${where}: HTTP ${status}).`, {
    status,
    hint: err.hint,
  });
}

function checkToken(data: unknown): Token {
  const t = data as Partial<Token>;
  if (!t || typeof t.value !== "string" || typeof t.sdp_url !== "string") {
    throw new WidgetError("bad_token", "The session key endpoint answered with something unexpected.");
  }
  return {
    value: t.value,
    expires_at: Number(t.expires_at ?? 0),
    model: String(t.model ?? ""),
    dialect: t.dialect === "beta" ? "beta" : "ga",
    sdp_url: t.sdp_url,
    upstream: t.upstream === "remote" ? "remote" : "local",
    ...(providerFields(t.provider) ? { provider: providerFields(t.provider) } : {}),
  };
}

/** The token's `provider` (string fields only), or `undefined`. */
function providerFields(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === "string" && ["name", "layout", "model", "runs"].includes(k)) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** A key from the server extension, or `null` when this page has no extension to ask. */
export async function fromServer(request: MintRequest): Promise<Token | null> {
  const page = jupyterPage();
  if (!page) return null;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const xsrf = cookie("_xsrf");
  if (xsrf) headers["X-XSRFToken"] = xsrf;
  if (page.token) headers["Authorization"] = `token ${page.token}`;
  let response: Response;
  try {
    response = await fetch(`${page.baseUrl}rt-jupyter/session`, {
      method: "POST",
      headers,
      credentials: "same-origin",
      body: JSON.stringify(request),
    });
  } catch {
    return null;
  }
  if (response.status === 404 || response.status === 405) return null;
  let text = "";
  try {
    text = await response.text();
  } catch {
    text = "";
  }
  if (!response.ok) {
    throw errorFrom(response.status, text, "Jupyter server", response.headers.get("content-type") ?? "");
  }
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return checkToken(body);
}

type Pending = { resolve: (t: Token) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

/** Asks the kernel for keys over the comm (`mint` → `minted`). */
export class KernelMinter {
  private next = 1;
  private pending = new Map<number, Pending>();

  constructor(private readonly send: (content: unknown) => void) {}

  mint(request: MintRequest, timeoutMs = 60000): Promise<Token> {
    const id = this.next++;
    return new Promise<Token>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new WidgetError(
            "kernel_silent",
            "The kernel did not answer the request for a session key. Is it busy running a cell, or stopped? Wait for it, or restart it, then connect again.",
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ type: "mint", id, model: request.model, session: request.session });
    });
  }

  /** Handle a `minted` message from the kernel. */
  receive(message: { id?: number; ok?: boolean; token?: unknown; status?: number; error?: unknown }): void {
    const entry = this.pending.get(Number(message.id));
    if (!entry) return;
    this.pending.delete(Number(message.id));
    clearTimeout(entry.timer);
    if (message.ok) {
      try {
        entry.resolve(checkToken(message.token));
      } catch (e) {
        entry.reject(e as Error);
      }
    } else {
      entry.reject(errorFrom(message.status ?? 500, { error: message.error }, "kernel"));
    }
  }

  dispose(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
  }
}

/** A key from the configured source: "server", "kernel", or "auto" (server, then kernel). */
export async function getToken(
  source: string,
  request: MintRequest,
  kernel: KernelMinter,
): Promise<Token> {
  if (source !== "kernel") {
    const token = await fromServer(request);
    if (token) return token;
    if (source === "server") {
      throw new WidgetError(
        "no_extension",
        "No rt_jupyter server extension answers on this page (key_source='server'). Install rt_jupyter in the Jupyter server's environment, or use key_source='auto'.",
      );
    }
  }
  try {
    return await kernel.mint(request);
  } catch (e) {
    if (e instanceof WidgetError && e.code === "kernel_silent" && source === "auto") {
      throw new WidgetError(
        "no_key_source",
        "Could not get a session key: no rt_jupyter server extension answers on this page and the kernel did not answer either. Run the widget in a kernel with rt_jupyter installed (and make sure the kernel is idle).",
      );
    }
    throw e;
  }
}

/** Whether a key is still usable for at least `marginS` seconds. */
export function fresh(token: Token | null, marginS = 10): token is Token {
  return !!token && token.expires_at * 1000 - Date.now() > marginS * 1000;
}
