// The relay: every event that crosses the data channel (and local notes) goes to the kernel in
// ordered batches. While traffic is light a batch leaves at once (up to `burst` batches per
// `intervalMs` window); beyond that batches leave once per window (16 ms: one animation frame), so
// a flood costs the kernel ~60 messages a second. Nothing is dropped or reordered. Audio never
// goes this way (it stays in WebRTC).

import { nowMs } from "./types";

export type Direction = "in" | "out" | "local";
export type RelayEntry = [Direction, number, string];

export interface RelayOptions {
  intervalMs?: number;
  burst?: number;
  maxEvents?: number;
  maxChars?: number;
}

export class Relay {
  private queue: RelayEntry[] = [];
  private chars = 0;
  private seq = 0;
  private scheduled = false;
  private windowStart = -Infinity;
  private used = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly intervalMs: number;
  private readonly burst: number;
  private readonly maxEvents: number;
  private readonly maxChars: number;
  /** Events handed to the kernel so far (for diagnostics). */
  sent = 0;

  constructor(
    private readonly post: (message: { type: "events"; seq: number; events: RelayEntry[] }) => void,
    options: RelayOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 16;
    this.burst = options.burst ?? 4;
    this.maxEvents = options.maxEvents ?? 5000;
    this.maxChars = options.maxChars ?? 4_000_000;
  }

  /** Queue one event (its JSON text as on the wire) with its arrival time. */
  push(direction: Direction, text: string, at: number = nowMs()): void {
    this.queue.push([direction, at, text]);
    this.chars += text.length;
    this.schedule();
  }

  /** Queue a local note (`{"type": "rt.…", ...}`). */
  note(type: string, fields: Record<string, unknown> = {}): void {
    this.push("local", JSON.stringify({ type, ...fields }));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const now = performance.now();
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.burst) {
      this.used += 1;
      queueMicrotask(() => this.flush());
    } else {
      this.timer = setTimeout(() => this.flush(), this.windowStart + this.intervalMs - now);
    }
  }

  /** Send everything queued now (in batches bounded by count and size). */
  flush(): void {
    this.scheduled = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.queue.length) return;
    let count = 0;
    let chars = 0;
    while (count < this.queue.length && count < this.maxEvents) {
      chars += this.queue[count][2].length;
      count += 1;
      if (chars >= this.maxChars) break;
    }
    const events = this.queue.splice(0, count);
    this.chars -= chars;
    this.sent += events.length;
    this.post({ type: "events", seq: this.seq++, events });
    if (this.queue.length) this.schedule();
  }

  get pending(): number {
    return this.queue.length;
  }
}
