// One controller per widget model (shared by all its views): the call, the microphone, the
// relay to the kernel and the live transcript. The ephemeral key lives only here, in memory.

import { Meter, Player, cameraSnapshot, micUnavailable, openMic } from "./audio";
import { ResponseGate } from "./gate";
import { loopback } from "./loopback";
import { Peer } from "./peer";
import { Relay } from "./relay";
import { browserReport } from "./report";
import { KernelMinter, fresh, getToken } from "./token";
import { AnyModel, Entry, Status, Token, WidgetError } from "./types";

type Json = Record<string, any>;

const BETA_KINDS: Record<string, string> = {
  "response.text.delta": "response.output_text.delta",
  "response.text.done": "response.output_text.done",
  "response.audio_transcript.delta": "response.output_audio_transcript.delta",
  "response.audio_transcript.done": "response.output_audio_transcript.done",
  "conversation.item.created": "conversation.item.added",
};

function message(e: unknown): string {
  if (e instanceof WidgetError) return e.hint ? `${e.message} ${e.hint}` : e.message;
  if (e instanceof Error) return `Something went wrong: ${e.message}`;
  return `Something went wrong: ${String(e)}`;
}

function contentText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const part of content as Json[]) {
    if (typeof part?.text === "string") parts.push(part.text);
    else if (typeof part?.transcript === "string") parts.push(part.transcript);
    else if (part?.type === "input_image") parts.push("[picture]");
  }
  return parts.join(" ");
}

/** `{"city": "paris"}` → `city="paris"` (anything else as sent). */
function formatArguments(text: string): string {
  try {
    const args = JSON.parse(text) as unknown;
    if (args && typeof args === "object" && !Array.isArray(args)) {
      return Object.entries(args as Json)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(", ");
    }
  } catch {
    /* shown as sent */
  }
  return text;
}

export class Controller {
  readonly relay: Relay;
  readonly minter: KernelMinter;
  readonly player = new Player();
  micMeter: Meter | null = null;
  outMeter: Meter | null = null;
  /** Entries of this page's calls, in order (the `transcript` trait holds the saved ones). */
  readonly entries = new Map<string, Entry>();
  speaking = false;
  holding = false;
  reconnectable = false;
  notice = "";
  deviceId: string | null = null;
  lastVad: unknown = "server_vad";
  private peer: Peer | null = null;
  private readonly gate = new ResponseGate();
  private stream: MediaStream | null = null;
  private context: AudioContext | null = null;
  private token: Token | null = null;
  private attempt = 0;
  private iceOverride: RTCIceServer[] | null = null;
  private listeners = new Set<() => void>();
  private emitPending = false;
  private disposed = false;

  constructor(readonly model: AnyModel) {
    this.relay = new Relay((batch) => {
      try {
        this.model.send(batch);
      } catch {
        /* no kernel behind this widget (a saved notebook): nothing to relay to */
      }
    });
    this.minter = new KernelMinter((content) => this.model.send(content));
    this.model.on("msg:custom", this.onCustom);
    this.model.on("change:muted", this.applyMic);
    this.model.on("change:turn_detection", this.onMode);
    const td = this.model.get("turn_detection");
    if (td !== null && td !== undefined) this.lastVad = td;
    window.addEventListener("pagehide", this.onPageHide);
    try {
      const status = this.status;
      if (status === "connecting" || status === "connected") {
        // a call cannot survive a page load: this page has none
        this.setStatus("idle");
      }
      this.model.send({ type: "hello" });
    } catch {
      /* a saved notebook shown without a kernel: display only */
    }
  }

  // --- state -------------------------------------------------------------------------------------

  get status(): Status {
    return (this.model.get("status") as Status) || "idle";
  }

  get pushToTalk(): boolean {
    return this.model.get("turn_detection") === null;
  }

  get connected(): boolean {
    return this.peer?.open_ ?? false;
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

  private setStatus(status: Status, error = ""): void {
    this.model.set("status", status);
    this.model.set("error", error);
    this.model.save_changes();
    this.relay.note("rt.status", { status, error });
    this.emit();
  }

  /** Entries to show: saved ones not seen live (earlier calls, a restored notebook), then live. */
  transcript(): Entry[] {
    const saved = (this.model.get("transcript") as { role: string; text: string; item_id: string }[]) ?? [];
    const out: Entry[] = [];
    const savedText = new Map<string, string>();
    for (const s of saved) {
      savedText.set(s.item_id, s.text);
      if (!this.entries.has(s.item_id)) {
        out.push({ id: s.item_id, role: s.role as Entry["role"], text: s.text, done: true });
      }
    }
    for (const entry of this.entries.values()) {
      const text = savedText.get(entry.id);
      if (text !== undefined && !entry.done && text.length >= entry.text.length) {
        out.push({ ...entry, text, done: true });
      } else {
        out.push(entry);
      }
    }
    return out;
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
    try {
      this.model.send({ type: "browser", report });
    } catch {
      /* no kernel behind this widget */
    }
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
    const context = this.audioContext();
    const request = {
      model: (this.model.get("model") as string) || undefined,
      session: (this.model.get("session") as Json) ?? { type: "realtime" },
    };
    const constraints = (this.model.get("audio_constraints") as MediaTrackConstraints) ?? {};
    let stream: MediaStream | null = null;
    try {
      const tMic = performance.now();
      let micMs = 0;
      let mintMs = 0;
      const micPromise = openMic(constraints, this.deviceId).then((s) => {
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
      this.stream = stream;
      if (context) {
        this.micMeter?.disconnect();
        this.micMeter = new Meter(context, stream);
      }
      this.applyMic();
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
      if (token.dialect === "beta") this.token = null; // beta keys open one session
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
      if (stream && stream !== this.stream) for (const track of stream.getTracks()) track.stop();
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
        this.setStatus("dropped", error.message);
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
    this.setStatus("error", message(e));
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
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.micMeter?.disconnect();
    this.outMeter?.disconnect();
    this.micMeter = null;
    this.outMeter = null;
    this.player.stop();
    this.speaking = false;
    this.holding = false;
    this.emit();
  }

  // --- microphone --------------------------------------------------------------------------------

  readonly applyMic = (): void => {
    const muted = Boolean(this.model.get("muted"));
    const open = !muted && (!this.pushToTalk || this.holding);
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = open;
    this.emit();
  };

  private readonly onMode = (): void => {
    const td = this.model.get("turn_detection");
    if (td !== null && td !== undefined) this.lastVad = td;
    this.holding = false;
    this.applyMic();
  };

  setMuted(muted: boolean): void {
    this.model.set("muted", muted);
    this.model.save_changes();
    this.applyMic();
  }

  setMode(pushToTalk: boolean): void {
    this.model.set("turn_detection", pushToTalk ? null : this.lastVad ?? "server_vad");
    this.model.save_changes();
    this.onMode();
  }

  /** Push-to-talk: open the microphone while held; on release commit the turn and respond. */
  talk(down: boolean): void {
    if (!this.pushToTalk || !this.connected || down === this.holding) return;
    this.holding = down;
    try {
      if (down) {
        this.sendEvent({ type: "input_audio_buffer.clear" });
      } else {
        this.sendEvent({ type: "input_audio_buffer.commit" });
        this.sendEvent({ type: "response.create" });
      }
    } catch (e) {
      this.notice = message(e);
    }
    this.applyMic();
  }

  async chooseMic(deviceId: string | null): Promise<void> {
    this.deviceId = deviceId;
    if (!this.stream || !this.peer) return;
    try {
      const constraints = (this.model.get("audio_constraints") as MediaTrackConstraints) ?? {};
      const next = await openMic(constraints, deviceId);
      const track = next.getAudioTracks()[0];
      await this.peer.replaceTrack(track);
      for (const old of this.stream.getTracks()) old.stop();
      this.stream = next;
      const context = this.audioContext();
      if (context) {
        this.micMeter?.disconnect();
        this.micMeter = new Meter(context, next);
      }
      this.applyMic();
    } catch (e) {
      this.notice = message(e);
      this.emit();
    }
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
    if (event) this.onClientEvent(event);
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
      this.notice = message(e);
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
    this.onServerEvent(event);
    for (const held of this.gate.server(event)) {
      if (this.peer) this.transmit(held, JSON.parse(held) as Json);
    }
  }

  private entry(id: string, role: Entry["role"]): Entry {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { id, role, text: "", done: false };
      this.entries.set(id, entry);
    }
    return entry;
  }

  private onServerEvent(event: Json): void {
    const type = BETA_KINDS[event.type as string] ?? (event.type as string);
    switch (type) {
      case "session.created":
        this.notice = "";
        break;
      case "conversation.item.added": {
        const item = event.item as Json | undefined;
        if (item?.type === "message" && item.id && (item.role === "user" || item.role === "assistant")) {
          const entry = this.entry(item.id, item.role);
          const text = contentText(item.content);
          if (text) entry.text = text;
          if (item.role === "user" && text) entry.done = true;
        }
        break;
      }
      case "response.output_item.added": {
        const item = event.item as Json | undefined;
        if (item?.type === "message" && item.id) this.entry(item.id, "assistant");
        break;
      }
      case "conversation.item.input_audio_transcription.delta":
        this.entry(event.item_id, "user").text += String(event.delta ?? "");
        break;
      case "conversation.item.input_audio_transcription.completed": {
        const entry = this.entry(event.item_id, "user");
        entry.text = String(event.transcript ?? "");
        entry.done = true;
        break;
      }
      case "conversation.item.input_audio_transcription.failed": {
        const entry = this.entry(event.item_id, "user");
        entry.text = entry.text || "(speech not recognised)";
        entry.done = true;
        break;
      }
      case "response.output_text.delta":
      case "response.output_audio_transcript.delta":
        this.entry(event.item_id, "assistant").text += String(event.delta ?? "");
        break;
      case "response.output_text.done":
      case "response.output_audio_transcript.done": {
        const entry = this.entry(event.item_id, "assistant");
        entry.text = String(event.text ?? event.transcript ?? entry.text);
        entry.done = true;
        break;
      }
      case "response.function_call_arguments.done": {
        const entry = this.entry(`call:${event.call_id}`, "tool");
        entry.text = `${event.name ?? "tool"}(${formatArguments(String(event.arguments ?? ""))})`;
        break;
      }
      case "conversation.item.deleted":
        this.entries.delete(event.item_id);
        break;
      case "conversation.item.truncated": {
        const entry = this.entries.get(event.item_id);
        if (entry && !entry.text.endsWith(" (interrupted)")) entry.text += " (interrupted)";
        break;
      }
      case "input_audio_buffer.speech_started":
        this.speaking = true;
        break;
      case "input_audio_buffer.speech_stopped":
        this.speaking = false;
        break;
      case "error": {
        const err = event.error as Json | undefined;
        this.notice = `The realtime service reported an error: ${err?.message ?? "unknown error"}`;
        break;
      }
      case "response.done": {
        const response = event.response as Json | undefined;
        if (response?.status === "failed") {
          const detail = response.status_details?.error?.message ?? "no details";
          this.notice = `The response failed: ${detail}`;
        }
        break;
      }
      default:
        return;
    }
    this.emit();
  }

  private onClientEvent(event: Json): void {
    if (event.type === "conversation.item.create" && event.item?.type === "function_call_output") {
      const entry = this.entry(`call:${event.item.call_id}`, "tool");
      entry.text = `${entry.text} → ${String(event.item.output ?? "")}`;
      entry.done = true;
      this.emit();
    }
  }

  // --- messages from the kernel ------------------------------------------------------------------

  private readonly onCustom = (content: Json): void => {
    switch (content?.type) {
      case "send":
        for (const text of (content.events as string[]) ?? []) {
          try {
            this.sendText(text);
          } catch (e) {
            this.relay.note("rt.send_failed", { error: message(e), event: text.slice(0, 200) });
          }
        }
        break;
      case "minted":
        this.minter.receive(content);
        break;
      case "connect":
        void this.connect();
        break;
      case "hangup":
        this.hangup();
        break;
      case "ice":
        this.iceOverride = Array.isArray(content.servers) ? (content.servers as RTCIceServer[]) : null;
        break;
      case "loopback":
        void loopback(Number(content.count) || 0, Number(content.rate) || 0, (text, at) =>
          this.onServerMessage(text, at),
        ).then(
          (result) => this.relay.note("rt.loopback_done", { ...result }),
          (e) => this.relay.note("rt.loopback_done", { error: message(e) }),
        );
        break;
    }
  };

  private readonly onPageHide = (): void => {
    this.hangup();
    this.relay.flush();
  };

  dispose(): void {
    this.disposed = true;
    this.hangup();
    this.relay.flush();
    this.minter.dispose();
    this.model.off("msg:custom", this.onCustom);
    this.model.off("change:muted", this.applyMic);
    this.model.off("change:turn_detection", this.onMode);
    window.removeEventListener("pagehide", this.onPageHide);
    this.context?.close().catch(() => undefined);
    this.context = null;
    this.listeners.clear();
  }
}
