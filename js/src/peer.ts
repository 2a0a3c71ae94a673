// The WebRTC call, as in OpenAI's reference: the `oai-events` data channel is created before the
// offer, the offer is POSTed as application/sdp with `Authorization: Bearer <ephemeral key>`, the
// answer (201, with the call's `Location`) is applied, model audio arrives as a remote track.

import limits from "../../rt_jupyter/protocol/limits.json";
import { errorFromHttp } from "./errors";
import { WidgetError, nowMs } from "./types";

/**
 * Largest message sent on the data channel, in UTF-8 bytes: a margin under the ~64 KiB SCTP
 * max-message-size (bigger ones can silently close the channel). Shared with Python through
 * rt_jupyter/protocol/limits.json.
 */
export const MAX_MESSAGE_BYTES: number = limits.data_channel_max_message_bytes;

export interface PeerOptions {
  sdpUrl: string;
  key: string;
  iceServers: RTCIceServer[];
  codec: string;
  timeoutMs: number;
  stream: MediaStream;
  onMessage: (text: string, at: number) => void;
  onTrack: (stream: MediaStream) => void;
  onDrop: (error: WidgetError) => void;
}

export interface OpenTimings {
  offer_ms: number;
  gather_ms: number;
  sdp_ms: number;
  connect_ms: number;
}

const CODECS: Record<string, string> = { opus: "audio/opus", pcmu: "audio/pcmu", pcma: "audio/pcma" };

function host(url: string): string {
  try {
    return new URL(url, window.location.href).host;
  } catch {
    return url;
  }
}

function gathered(pc: RTCPeerConnection, maxMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, maxMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

async function sdpError(response: Response, where: string, key: string): Promise<WidgetError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    /* no body */
  }
  const err = errorFromHttp(response.status, text, response.headers.get("content-type") ?? "", [key]);
  const message = err.message;
  const code = err.code ?? "";
  const detail = message ? `: ${message}` : "";
  if (response.status === 401 && /expired/i.test(`${code} ${message}`)) {
    return new WidgetError("key_expired", `The session key expired before the call started${detail}.`, {
      status: 401,
    });
  }
  if (response.status === 401 || response.status === 403) {
    return new WidgetError("key_refused", `The realtime service at ${where} refused the session key (HTTP ${response.status}${detail}).`, {
      status: response.status,
    });
  }
  return new WidgetError("upstream_error", `The realtime service at ${where} refused the call (HTTP ${response.status}${detail}).`, {
    status: response.status,
  });
}

export class Peer {
  readonly pc: RTCPeerConnection;
  readonly dc: RTCDataChannel;
  sender: RTCRtpSender | null = null;
  /** `Location` of the call (`…/realtime/calls/rtc_…`), when the service gives one. */
  callUrl: string | null = null;
  private closing = false;
  private opened = false;
  private disconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly options: PeerOptions) {
    this.pc = new RTCPeerConnection({ iceServers: options.iceServers });
    this.pc.ontrack = (event) => options.onTrack(event.streams[0] ?? new MediaStream([event.track]));
    const track = options.stream.getAudioTracks()[0];
    if (track) {
      this.sender = this.pc.addTrack(track, options.stream);
      this.preferCodec(options.codec);
    } else {
      this.pc.addTransceiver("audio", { direction: "recvonly" });
    }
    this.dc = this.pc.createDataChannel("oai-events");
    this.dc.onmessage = (event: MessageEvent) => {
      if (typeof event.data === "string") options.onMessage(event.data, nowMs());
    };
  }

  private preferCodec(codec: string): void {
    const want = CODECS[codec] ?? CODECS.opus;
    const caps = typeof RTCRtpReceiver.getCapabilities === "function" ? RTCRtpReceiver.getCapabilities("audio") : null;
    const transceiver = this.pc.getTransceivers().find((t) => t.sender === this.sender);
    if (!caps || !transceiver || typeof transceiver.setCodecPreferences !== "function") return;
    const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === want);
    const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== want);
    if (!first.length) return;
    try {
      transceiver.setCodecPreferences([...first, ...rest]);
    } catch {
      /* keep the browser's order */
    }
  }

  /** Offer, SDP exchange, and wait for the data channel to open (or fail in plain words). */
  async open(): Promise<OpenTimings> {
    const where = host(this.options.sdpUrl);
    const t0 = performance.now();
    const timings: OpenTimings = { offer_ms: 0, gather_ms: 0, sdp_ms: 0, connect_ms: 0 };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const opened = new Promise<void>((resolve, reject) => {
      this.dc.onopen = () => resolve();
      this.dc.onclose = () => {
        if (!this.opened) reject(new WidgetError("channel_closed", "The service closed the call before it started."));
      };
      this.pc.onconnectionstatechange = () => {
        if (!this.opened && this.pc.connectionState === "failed") {
          reject(this.iceError());
        }
      };
    });
    opened.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.abort.abort();
        reject(
          new WidgetError(
            "timeout",
            `Connecting took longer than ${Math.round(this.options.timeoutMs / 1000)} s: the realtime service at ${where} did not complete the call. Check the network (VPN, firewall) and try again.`,
          ),
        );
      }, this.options.timeoutMs);
    });
    const work = async () => {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      timings.offer_ms = performance.now() - t0;
      await gathered(this.pc, 1500);
      timings.gather_ms = performance.now() - t0 - timings.offer_ms;
      const sdp = this.pc.localDescription?.sdp ?? offer.sdp ?? "";
      const t1 = performance.now();
      let response: Response;
      try {
        response = await fetch(this.options.sdpUrl, {
          method: "POST",
          body: sdp,
          headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.options.key}` },
          signal: this.abort.signal,
        });
      } catch (e) {
        if (this.closing || this.abort.signal.aborted) throw new WidgetError("cancelled", "Connecting was cancelled.");
        const sameMachine = /^(127\.|localhost|\[::1\])/.test(where) && !/^(127\.|localhost|\[::1\])/.test(window.location.host);
        throw new WidgetError(
          "unreachable",
          `Could not reach the realtime service at ${where}.` +
            (sameMachine
              ? " It listens on the kernel's machine only; this browser runs elsewhere. Install rt_jupyter in the Jupyter server so the service is served from the page's own address."
              : " Check the network connection."),
        );
      }
      if (response.status !== 201 && !response.ok) throw await sdpError(response, where, this.options.key);
      this.callUrl = response.headers.get("Location");
      const answer = await response.text();
      timings.sdp_ms = performance.now() - t1;
      if (this.closing) throw new WidgetError("cancelled", "Connecting was cancelled.");
      await this.pc.setRemoteDescription({ type: "answer", sdp: answer });
      const t2 = performance.now();
      await opened;
      timings.connect_ms = performance.now() - t2;
    };
    try {
      await Promise.race([work(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    this.opened = true;
    this.watch();
    return timings;
  }

  private iceError(): WidgetError {
    return new WidgetError(
      "ice_failed",
      "The audio connection could not be established (ICE failed). A firewall, VPN or proxy may block WebRTC; the service may need a TURN server (ice_servers).",
    );
  }

  private watch(): void {
    this.dc.onclose = () => {
      if (!this.closing) this.options.onDrop(new WidgetError("dropped", "The call dropped: the service closed the connection."));
    };
    this.pc.onconnectionstatechange = () => {
      if (this.closing) return;
      const state = this.pc.connectionState;
      if (state === "failed") {
        this.options.onDrop(this.iceError());
      } else if (state === "disconnected") {
        if (this.disconnectTimer === null) {
          this.disconnectTimer = setTimeout(() => {
            this.disconnectTimer = null;
            if (!this.closing && this.pc.connectionState === "disconnected") {
              this.options.onDrop(new WidgetError("dropped", "The call dropped: the network connection was lost."));
            }
          }, 5000);
        }
      } else if (state === "connected" && this.disconnectTimer !== null) {
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = null;
      }
    };
  }

  get open_(): boolean {
    return this.opened && this.dc.readyState === "open";
  }

  /** Send one JSON message on the data channel. */
  send(text: string): void {
    if (this.dc.readyState !== "open") throw new WidgetError("not_connected", "The call is not connected.");
    const size = new TextEncoder().encode(text).length;
    if (size > MAX_MESSAGE_BYTES) {
      throw new WidgetError("too_large", `An event of ${size} bytes is too large for the data channel (limit ${MAX_MESSAGE_BYTES} bytes).`);
    }
    this.dc.send(text);
  }

  /** Use another microphone track without renegotiating. */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    if (this.sender) await this.sender.replaceTrack(track);
  }

  close(): void {
    this.closing = true;
    this.abort.abort();
    if (this.disconnectTimer !== null) clearTimeout(this.disconnectTimer);
    try {
      this.dc.close();
    } catch {
      /* closed */
    }
    try {
      this.pc.close();
    } catch {
      /* closed */
    }
  }
}
