// A stand-in for the anywidget model (traits, change events, custom messages, sent messages).

import { AnyModel } from "../src/types";

type Callback = (...args: unknown[]) => void;

export class FakeModel implements AnyModel {
  readonly sent: unknown[] = [];
  saves = 0;
  failSend = false;
  private readonly traits = new Map<string, unknown>();
  private readonly handlers = new Map<string, Set<Callback>>();

  constructor(traits: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(traits)) this.traits.set(k, v);
  }

  get(name: string): unknown {
    return this.traits.get(name);
  }

  set(name: string, value: unknown): void {
    const before = this.traits.get(name);
    this.traits.set(name, value);
    if (before !== value) this.fire(`change:${name}`);
  }

  save_changes(): void {
    this.saves++;
  }

  on(event: string, callback: Callback): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(callback);
  }

  off(event?: string | null, callback?: Callback | null): void {
    if (event && callback) this.handlers.get(event)?.delete(callback);
  }

  send(content: unknown): void {
    if (this.failSend) throw new Error("no kernel");
    this.sent.push(content);
  }

  /** Deliver a message or change event as anywidget would. */
  fire(event: string, ...args: unknown[]): void {
    for (const callback of this.handlers.get(event) ?? []) callback(...args);
  }

  listeners(event: string): number {
    return this.handlers.get(event)?.size ?? 0;
  }
}
