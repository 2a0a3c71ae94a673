// One controller per widget model (shared by all its views): the call lifecycle (connect, hang
// up, reconnect, the Peer), wiring the microphone (mic.ts), the live transcript (transcript.ts),
// the kernel comm and its relay (kernel.ts). The ephemeral key lives only here, in memory.

import { Meter, Player, cameraSnapshot, micUnavailable } from "./audio";
import { ResponseGate } from "./gate";
import { KernelLink } from "./kernel";
import { Microphone } from "./mic";
import { Peer } from "./peer";
import { Relay } from "./relay";
import { browserReport } from "./report";
import { KernelMinter, fresh, getToken } from "./token";
import { SavedLine, Transcript } from "./transcript";
import { AnyModel, Entry, Json, Status, Token, WidgetError, errorMessage } from "./types";

export class Controller {
  readonly kernel: KernelLink;
  readonly mic: Microphone;
  readonly live = new Transcript();
  readonly player = new Player();
  outMeter: Meter | null = null;
  reconnectable = false;
  notice = "";
  private peer: Peer | null = null;
  private readonly gate = new ResponseGate();
  private context: AudioContext | null = null;
  private token: Token | null = null;
  private attempt = 0;
  private iceOverride: RTCIceServer[] | null = null;
  private listeners = new Set<() => void>();
  private emitPending = false;
  private disposed = false;

  constructor(readonly model: AnyModel) {
    this.kernel = new KernelLink(model, {
      send: (text) => this.sendText(text),
      connect: () => void this.connect(),
      hangup: () => this.hangup(),
      ice: (servers) => {
        this.iceOverride = servers;
      },
      serverMessage: (text, at) => this.onServerMessage(text, at),
    });
    this.mic = new Microphone({
      model,
      audioContext: () => this.audioContext(),
      emit: () => this.emit(),
      notify: (e) => {
        this.notice = errorMessage(e);
      },
    });
    window.addEventListener("pagehide", this.onPageHide);
    try {
      const status = this.status;
      if (status === "connecting" || status === "connected") {
        // a call cannot survive a page load: this page has none
        this.setStatus("idle");
      }
      this.kernel.hello();
    } catch {
      /* a saved notebook shown without a kernel: display only */
    }
  }

  // --- state -------------------------------------------------------------------------------------

  get relay(): Relay {
    return this.kernel.relay;
  }

  get minter(): KernelMinter {
    return this.kernel.minter;
  }

  get status(): Status {
    return (this.model.get("status") as Status) || "idle";
  }

  get connected(): boolean {
    return this.peer?.open_ ?? false;
  }

  // what the views read of the microphone
  get pushToTalk(): boolean {
    return this.mic.pushToTalk;
  }

  get holding(): boolean {
    return this.mic.holding;
  }

  get speaking(): boolean {
    return this.mic.speaking;
  }

  get micMeter(): Meter | null {
    return this.mic.meter;
  }

  get deviceId(): string | null {
    return this.mic.deviceId;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tell the views (at most once per frame). */
  emit(): void {
    if (this.emitPending) return;
    this.emitPending = true;
    const run = () => {
      this.emitPending = false;
      for (const listener of this.listeners) listener();
    };
    if (typeof requestAnimationFrame === "function" && document.visibilityState === "visible") {
      requestAnimationFrame(run);
    } else {
      setTimeout(run, 16);
    }
  }

  /** Set the synced status and error, and tell the kernel (`rt.status`): with a failure, its
   * `code` (a WidgetError code) and `http_status` let the kernel's `wait_for` raise the matching
   * exception. */
  private setStatus(status: Status, error = "", failure?: unknown): void {
    this.model.set("status", status);
    this.model.set("error", error);
    this.model.save_changes();
    const code = failure instanceof WidgetError ? failure.code : failure === undefined ? undefined : "failed";
    const httpStatus = failure instanceof WidgetError ? failure.status : undefined;
    this.relay.note("rt.status", { status, error, code, http_status: httpStatus });
    this.emit();
  }

  /** Entries to show: saved ones not seen live (earlier calls, a restored notebook), then live. */
  transcript(): Entry[] {
    return this.live.show((this.model.get("transcript") as SavedLine[]) ?? []);
  }

  // --- connecting --------------------------------------------------------------------------------

  private audioContext(): AudioContext | null {
    if (this.context === null && typeof AudioContext !== "undefined") {
      try {
        this.context = new AudioContext();
      } catch {
        this.context = null;
      }
    }
    if (this.context?.state === "suspended") this.context.resume().catch(() => undefined);
    return this.context;
  }

  private async freshToken(request: { model?: string; session: Json }, force = false): Promise<Token> {
    if (!force && fresh(this.token) && (!request.model || request.model === this.token.model)) {
      return this.token;
    }
    this.token = null;
    const source = String(this.model.get("key_source") || "auto");
    this.token = await getToken(source, request, this.minter);
    return this.token;
  }

  /** Tell the kernel what this page allows (`chat.browser`): after render and after each connect
   * attempt, since the microphone permission may have changed. */
  async reportBrowser(): Promise<void> {
    const report = await browserReport();
    if (this.disposed) return;
    this.kernel.browser(report);
  }

  /** Start a call (Connect / Reconnect). */
  async connect(): Promise<void> {
    if (this.disposed || this.status === "connecting" || this.connected) return;
    try {
      await this.attemptConnect();
    } finally {
      void this.reportBrowser();
    }
  }

  private async attemptConnect(): Promise<void> {
    const attempt = ++this.attempt;
    const t0 = performance.now();
    this.reconnectable = false;
    this.notice = "";
    this.setStatus("connecting");
    const problem = micUnavailable();
    if (problem) {
      this.fail(attempt, problem);
      return;
    }
    this.audioContext();
    const request = {
      model: (this.model.get("model") as string) || undefined,
      session: (this.model.get("session") as Json) ?? { type: "realtime" },
    };
    let stream: MediaStream | null = null;
    try {
      const tMic = performance.now();
      let micMs = 0;
      let mintMs = 0;
      const micPromise = this.mic.open().then((s) => {
        micMs = performance.now() - tMic;
        return s;
      });
      const cached = this.token;
      const tokenPromise = this.freshToken(request).then((t) => {
        mintMs = performance.now() - tMic;
        return t;
      });
      micPromise.catch(() => undefined);
      tokenPromise.catch(() => undefined);
      stream = await micPromise;
      let token = await tokenPromise;
      if (attempt !== this.attempt) throw new WidgetError("cancelled", "");
      this.mic.use(stream);
      this.model.set("dialect", token.dialect);
      this.model.set("upstream", token.upstream);
      if (!this.model.get("model")) this.model.set("model", token.model);
      this.model.save_changes();
      let peer: Peer | null = null;
      let timings;
      for (let tries = 0; ; tries++) {
        this.relay.note("rt.call_started", {
          dialect: token.dialect,
          model: token.model,
          upstream: token.upstream,
          ...(token.provider ? { provider: token.provider } : {}),
        });
        peer = this.makePeer(token, stream);
        this.peer = peer;
        try {
          timings = await peer.open();
          break;
        } catch (e) {
          peer.close();
          if (this.peer === peer) this.peer = null;
          const code = e instanceof WidgetError ? e.code : "";
          const stale = token === cached && code === "unreachable"; // the service moved
          if ((code === "key_expired" || code === "key_refused" || stale) && tries === 0 && attempt === this.attempt) {
            // the key expired, or its service restarted: mint a new one and try once more
            token = await this.freshToken(request, true);
            continue;
          }
          throw e;
        }
      }
      this.token = null; // an ephemeral key opens one session: the next call mints its own
      if (attempt !== this.attempt) {
        peer.close();
        return;
      }
      this.setStatus("connected");
      this.relay.note("rt.timing", {
        click_to_open_ms: performance.now() - t0,
        mic_ms: micMs,
        mint_ms: mintMs,
        ...timings,
      });
    } catch (e) {
      if (stream && stream !== this.mic.stream) for (const track of stream.getTracks()) track.stop();
      if (attempt !== this.attempt) return;
      this.fail(attempt, e);
    }
  }

  private makePeer(token: Token, stream: MediaStream): Peer {
    const ice = this.iceOverride ?? ((this.model.get("ice_servers") as RTCIceServer[]) || []);
    const timeoutMs = Math.max(1, Number(this.model.get("connection_timeout") || 30)) * 1000;
    const sdpUrl = new URL(token.sdp_url, window.location.href).toString();
    const peer: Peer = new Peer({
      sdpUrl,
      key: token.value,
      iceServers: ice,
      codec: String(this.model.get("codec") || "opus"),
      timeoutMs,
      stream,
      onMessage: (text, at) => this.onServerMessage(text, at),
      onTrack: (remote) => {
        this.player.play(remote);
        const context = this.audioContext();
        if (context) {
          this.outMeter?.disconnect();
          this.outMeter = new Meter(context, remote);
        }
      },
      onDrop: (error) => {
        if (this.peer !== peer) return;
        this.cleanup();
        this.reconnectable = true;
        this.setStatus("dropped", error.message, error);
      },
    });
    return peer;
  }

  private fail(attempt: number, e: unknown): void {
    if (attempt !== this.attempt) return;
    this.cleanup();
    if (e instanceof WidgetError && e.code === "cancelled") return;
    if (e instanceof WidgetError && e.code === "key_expired") this.token = null;
    this.reconnectable = e instanceof WidgetError && ["timeout", "ice_failed", "unreachable", "upstream_error"].includes(e.code);
    this.setStatus("error", errorMessage(e), e);
  }

  /** End the call (Hang up). */
  hangup(): void {
    this.attempt++;
    const had = this.peer !== null || this.status === "connecting";
    this.cleanup();
    this.reconnectable = false;
    if (had || this.status === "connected") this.setStatus("closed");
  }

  private cleanup(): void {
    this.peer?.close();
    this.peer = null;
    this.gate.reset();
    this.mic.stop();
    this.outMeter?.disconnect();
    this.outMeter = null;
    this.player.stop();
    this.emit();
  }

  // --- microphone --------------------------------------------------------------------------------

  setMuted(muted: boolean): void {
    this.mic.setMuted(muted);
  }

  setMode(pushToTalk: boolean): void {
    this.mic.setMode(pushToTalk);
  }

  /** Push-to-talk: open the microphone while held; on release commit the turn and respond. */
  talk(down: boolean): void {
    if (!this.connected) return;
    this.mic.talk(down, (event) => this.sendEvent(event));
  }

  chooseMic(deviceId: string | null): Promise<void> {
    // the call's peer when the new track is ready (the call may have ended meanwhile)
    return this.mic.choose(deviceId, this.peer ? (track) => (this.peer as Peer).replaceTrack(track) : null);
  }

  // --- events ------------------------------------------------------------------------------------

  /** Put a client event on the data channel and report it to the kernel. */
  sendEvent(event: Json): void {
    this.sendText(JSON.stringify(event));
  }

  private sendText(text: string): void {
    if (!this.peer) throw new WidgetError("not_connected", "Not connected: click Connect first.");
    let event: Json | null = null;
    try {
      event = JSON.parse(text) as Json;
    } catch {
      /* not JSON: the service answers with an error event */
    }
    if (event && !this.gate.offer(event, text)) {
      this.relay.note("rt.response_held", { waiting: this.gate.waiting });
      return;
    }
    this.transmit(text, event);
  }

  private transmit(text: string, event: Json | null): void {
    this.peer?.send(text);
    this.relay.push("out", text);
    if (event && this.live.client(event)) this.emit();
  }

  /** The text box: a user message and a response. */
  say(text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    this.sendEvent({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: trimmed }] },
    });
    this.sendEvent({ type: "response.create" });
  }

  async sendPicture(): Promise<void> {
    if (this.model.get("dialect") === "beta") {
      this.notice = "Pictures need the GA dialect; this service speaks beta.";
      this.emit();
      return;
    }
    try {
      const url = await cameraSnapshot();
      this.sendEvent({
        type: "conversation.item.create",
        item: { type: "message", role: "user", content: [{ type: "input_image", image_url: url, detail: "auto" }] },
      });
      this.sendEvent({ type: "response.create" });
    } catch (e) {
      this.notice = errorMessage(e);
      this.emit();
    }
  }

  private onServerMessage(text: string, at: number): void {
    this.relay.push("in", text, at);
    let event: Json;
    try {
      event = JSON.parse(text) as Json;
    } catch {
      return;
    }
    const effect = this.live.server(event);
    if (effect) {
      if (effect.notice !== undefined) this.notice = effect.notice;
      if (effect.speaking !== undefined) this.mic.speaking = effect.speaking;
      this.emit();
    }
    for (const held of this.gate.server(event)) {
      if (this.peer) this.transmit(held, JSON.parse(held) as Json);
    }
  }

  private readonly onPageHide = (): void => {
    this.hangup();
    this.relay.flush();
  };

  dispose(): void {
    this.disposed = true;
    this.hangup();
    this.kernel.dispose();
    this.mic.dispose();
    window.removeEventListener("pagehide", this.onPageHide);
    this.context?.close().catch(() => undefined);
    this.context = null;
    this.listeners.clear();
  }
}
