// Shared types of the rt_jupyter widget front end.

/** A JSON object as parsed (realtime events, comm messages). */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The part of the anywidget model API the widget uses. */
export interface AnyModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

/** What the key endpoints return: an ephemeral key (only ever held in memory) and where to
 * send the SDP offer. */
export interface Token {
  value: string;
  expires_at: number;
  model: string;
  dialect: "ga" | "beta";
  sdp_url: string;
  upstream: "local" | "remote";
  /** Who serves the call (name, layout, model, runs: the model behind a deployment), logged with
   * `rt.call_started` so the kernel's frames price the call as that provider's. */
  provider?: Record<string, string>;
}

/** One line of the transcript. */
export interface Entry {
  id: string;
  role: "user" | "assistant" | "tool" | "system" | "note";
  text: string;
  done: boolean;
}

export type Status = "idle" | "connecting" | "connected" | "dropped" | "closed" | "error";

/** An error with a stable code and a message in plain words. */
export class WidgetError extends Error {
  code: string;
  status?: number;
  hint?: string;
  constructor(code: string, message: string, opts: { status?: number; hint?: string } = {}) {
    super(message);
    this.name = "WidgetError";
    this.code = code;
    this.status = opts.status;
    this.hint = opts.hint;
  }
}

/** An error in plain words for the status line or a notice. */
export function errorMessage(e: unknown): string {
  if (e instanceof WidgetError) return e.hint ? `${e.message} ${e.hint}` : e.message;
  if (e instanceof Error) return `Something went wrong: ${e.message}`;
  return `Something went wrong: ${String(e)}`;
}

/** Milliseconds since the Unix epoch with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
