// Holds a `response.create` while a response is active in the conversation, and sends it when
// that response is done: the Realtime API refuses a second one
// (`conversation_already_has_active_response`), so a message typed (or sent from the kernel)
// while the model speaks, or while a voice turn is being answered, would otherwise never be
// answered. Out-of-band responses (`response.conversation: "none"`) run alongside and pass.

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function outOfBand(event: Json): boolean {
  return event.response?.conversation === "none";
}

/** A `response.create` with no settings of its own: any number of them is answered by one. */
function plain(event: Json): boolean {
  const response = event.response;
  return !response || (typeof response === "object" && Object.keys(response).length === 0);
}

export class ResponseGate {
  /** Ids of in-conversation responses created and not done. */
  private readonly active = new Set<string>();
  /** The `response.create` that went out and whose `response.created` has not come back. */
  private inFlight: string | null = null;
  /** The last `response.create` that went out (a refusal names no event: it is this one). */
  private lastSent: string | null = null;
  /** Held `response.create`s (their wire text), oldest first. */
  private readonly held: { text: string; plain: boolean }[] = [];

  /** Whether a client event may go out now (`true`) or is held until the response is done. */
  offer(event: Json, text: string): boolean {
    if (event.type !== "response.create" || outOfBand(event)) return true;
    if (this.active.size === 0 && this.inFlight === null && this.held.length === 0) {
      this.inFlight = this.lastSent = text;
      return true;
    }
    this.hold(text, plain(event));
    return false;
  }

  /** A server event; returns the held `response.create` texts to send now (at most one). */
  server(event: Json): string[] {
    const type = String(event.type ?? "");
    if (type === "response.created") {
      const response = event.response ?? {};
      if (response.conversation_id !== null || !("conversation_id" in response)) {
        if (response.id) this.active.add(String(response.id));
        this.inFlight = null;
      }
    } else if (type === "response.done") {
      if (event.response?.id) this.active.delete(String(event.response.id));
    } else if (type === "error" && event.error?.code === "conversation_already_has_active_response") {
      // refused because another response started first (a voice turn): ask again after it
      if (this.lastSent !== null) this.held.unshift({ text: this.lastSent, plain: false });
      this.inFlight = this.lastSent = null;
    } else if (type === "error" && this.inFlight !== null) {
      this.inFlight = null; // refused for another reason: nothing will be created for it
    } else {
      return [];
    }
    if (this.active.size > 0 || this.inFlight !== null || this.held.length === 0) return [];
    const next = this.held.shift()!.text;
    this.inFlight = this.lastSent = next;
    return [next];
  }

  /** How many `response.create`s wait. */
  get waiting(): number {
    return this.held.length;
  }

  /** Forget everything (a new call). */
  reset(): void {
    this.active.clear();
    this.inFlight = this.lastSent = null;
    this.held.length = 0;
  }

  private hold(text: string, isPlain: boolean): void {
    // plain requests queued one after another are answered by one response
    const last = this.held[this.held.length - 1];
    if (!(isPlain && last?.plain)) this.held.push({ text, plain: isPlain });
  }
}
