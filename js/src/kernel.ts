// The widget's comm with its kernel: messages from the kernel (`send`, `minted`, `connect`,
// `hangup`, `ice`, `loopback`) read into typed commands, and what the page tells the kernel
// (`hello`, `browser`, `mint`, the relay's event batches).

import { loopback } from "./loopback";
import { Relay } from "./relay";
import { KernelMinter } from "./token";
import { AnyModel, Json, errorMessage } from "./types";

/** A message from the kernel, checked. */
export type KernelMessage =
  | { type: "send"; events: string[] }
  | { type: "minted"; content: Json }
  | { type: "connect" }
  | { type: "hangup" }
  | { type: "ice"; servers: RTCIceServer[] | null }
  | { type: "loopback"; count: number; rate: number };

/** Read a custom message from the kernel; `null` for anything else. */
export function readKernelMessage(content: unknown): KernelMessage | null {
  if (!content || typeof content !== "object") return null;
  const c = content as Json;
  switch (c.type) {
    case "send":
      return { type: "send", events: Array.isArray(c.events) ? c.events.map(String) : [] };
    case "minted":
      return { type: "minted", content: c };
    case "connect":
    case "hangup":
      return { type: c.type };
    case "ice":
      return { type: "ice", servers: Array.isArray(c.servers) ? (c.servers as RTCIceServer[]) : null };
    case "loopback":
      return { type: "loopback", count: Number(c.count) || 0, rate: Number(c.rate) || 0 };
    default:
      return null;
  }
}

/** What the kernel can ask of the call. */
export interface KernelHandlers {
  /** Put a client event (as text) on the data channel; throws when there is no call. */
  send(text: string): void;
  connect(): void;
  hangup(): void;
  /** ICE servers to use instead of the `ice_servers` trait (`null`: the trait again). */
  ice(servers: RTCIceServer[] | null): void;
  /** A server event (as text) from the loopback feed. */
  serverMessage(text: string, at: number): void;
}

export class KernelLink {
  /** The data channel's events, batched to the kernel. */
  readonly relay: Relay;
  /** Keys minted by the kernel (`mint` → `minted`). */
  readonly minter: KernelMinter;

  constructor(
    private readonly model: AnyModel,
    private readonly handlers: KernelHandlers,
  ) {
    this.relay = new Relay((batch) => {
      try {
        this.model.send(batch);
      } catch {
        /* no kernel behind this widget (a saved notebook): nothing to relay to */
      }
    });
    this.minter = new KernelMinter((content) => this.model.send(content));
    this.model.on("msg:custom", this.onCustom);
  }

  /** Tell the kernel a page shows the widget (throws when there is no kernel). */
  hello(): void {
    this.model.send({ type: "hello" });
  }

  /** Tell the kernel what this page allows (`chat.browser`). */
  browser(report: unknown): void {
    try {
      this.model.send({ type: "browser", report });
    } catch {
      /* no kernel behind this widget */
    }
  }

  private readonly onCustom = (content: unknown): void => {
    const msg = readKernelMessage(content);
    if (msg) this.handle(msg);
  };

  private handle(msg: KernelMessage): void {
    switch (msg.type) {
      case "send":
        for (const text of msg.events) {
          try {
            this.handlers.send(text);
          } catch (e) {
            this.relay.note("rt.send_failed", { error: errorMessage(e), event: text.slice(0, 200) });
          }
        }
        break;
      case "minted":
        this.minter.receive(msg.content);
        break;
      case "connect":
        this.handlers.connect();
        break;
      case "hangup":
        this.handlers.hangup();
        break;
      case "ice":
        this.handlers.ice(msg.servers);
        break;
      case "loopback":
        void loopback(msg.count, msg.rate, (text, at) => this.handlers.serverMessage(text, at)).then(
          (result) => this.relay.note("rt.loopback_done", { ...result }),
          (e) => this.relay.note("rt.loopback_done", { error: errorMessage(e) }),
        );
        break;
    }
  }

  /** Stop listening to the kernel; what the relay holds goes out now. */
  dispose(): void {
    this.relay.flush();
    this.minter.dispose();
    this.model.off("msg:custom", this.onCustom);
  }
}
