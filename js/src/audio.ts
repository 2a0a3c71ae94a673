// Audio in the browser: the microphone (getUserMedia with echo cancellation and noise
// suppression), model audio through an <audio> element (so Chrome's echo canceller hears it),
// level meters through AnalyserNodes (never connected to the speakers), and mute.

import { WidgetError } from "./types";

/** Why the microphone cannot be used, in plain words; `null` when it can be tried. */
export function micUnavailable(): WidgetError | null {
  if (!window.isSecureContext) {
    return new WidgetError(
      "insecure_origin",
      "The browser only allows the microphone on secure pages. Open Jupyter over https:// or on localhost / 127.0.0.1.",
    );
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    return new WidgetError("no_media", "This browser gives no access to a microphone (no getUserMedia).");
  }
  if (typeof RTCPeerConnection === "undefined") {
    return new WidgetError("no_webrtc", "This browser does not support WebRTC, which voice chat needs.");
  }
  return null;
}

function micError(e: unknown): WidgetError {
  const name = (e as { name?: string })?.name ?? "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return new WidgetError(
        "mic_denied",
        "Microphone permission was denied. Allow the microphone for this site (the icon in the address bar) and click Connect again.",
      );
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return new WidgetError("no_mic", "No microphone was found. Plug one in, or pick another input, and connect again.");
    case "NotReadableError":
    case "TrackStartError":
      return new WidgetError(
        "mic_busy",
        "The microphone is in use by another application or could not be started. Close the other application and try again.",
      );
    default:
      return new WidgetError("mic_failed", `The microphone could not be opened (${name || String(e)}).`);
  }
}

/** Open the microphone with the widget's constraints (and a chosen device, if any). */
export async function openMic(
  constraints: MediaTrackConstraints,
  deviceId: string | null,
): Promise<MediaStream> {
  const audio: MediaTrackConstraints = { ...constraints };
  if (deviceId) audio.deviceId = { exact: deviceId };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (e) {
    throw micError(e);
  }
}

/** Audio inputs (labels appear once the page has microphone permission). */
export async function listMics(): Promise<{ id: string; label: string }[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices
      .filter((d) => d.kind === "audioinput")
      .map((d, i) => ({ id: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
  } catch {
    return [];
  }
}

/** RMS level (0..1) of a stream, read on demand. */
export class Meter {
  private source: MediaStreamAudioSourceNode;
  private analyser: AnalyserNode;
  private data: Float32Array<ArrayBuffer>;

  constructor(context: AudioContext, stream: MediaStream) {
    this.source = context.createMediaStreamSource(stream);
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 512;
    this.data = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  level(): number {
    this.analyser.getFloatTimeDomainData(this.data);
    let sum = 0;
    for (const v of this.data) sum += v * v;
    const rms = Math.sqrt(sum / this.data.length);
    return Math.min(1, rms * 4);
  }

  disconnect(): void {
    try {
      this.source.disconnect();
      this.analyser.disconnect();
    } catch {
      /* already gone */
    }
  }
}

/** Plays the remote (model) track through an <audio> element. */
export class Player {
  readonly element: HTMLAudioElement;

  constructor() {
    this.element = document.createElement("audio");
    this.element.autoplay = true;
    this.element.setAttribute("playsinline", "");
  }

  play(stream: MediaStream): void {
    this.element.srcObject = stream;
    const p = this.element.play();
    if (p) p.catch(() => undefined); // autoplay refusals: the user gesture that connected counts
  }

  stop(): void {
    this.element.pause();
    this.element.srcObject = null;
  }
}

/** Take one camera frame as a JPEG data URI that fits in a data-channel message. */
export async function cameraSnapshot(maxChars = 48000): Promise<string> {
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    const name = (e as { name?: string })?.name ?? "";
    if (name === "NotAllowedError") {
      throw new WidgetError("camera_denied", "Camera permission was denied; allow it for this site to send a picture.");
    }
    throw new WidgetError("no_camera", "No camera could be opened to take a picture.");
  }
  try {
    const video = document.createElement("video");
    video.muted = true;
    video.srcObject = stream;
    await video.play();
    let width = video.videoWidth || 640;
    let height = video.videoHeight || 480;
    const canvas = document.createElement("canvas");
    for (let attempt = 0; attempt < 6; attempt++) {
      canvas.width = width;
      canvas.height = height;
      canvas.getContext("2d")?.drawImage(video, 0, 0, width, height);
      const url = canvas.toDataURL("image/jpeg", 0.7 - attempt * 0.08);
      if (url.length <= maxChars) return url;
      width = Math.round(width * 0.75);
      height = Math.round(height * 0.75);
    }
    throw new WidgetError("image_too_large", "The picture is too large to send over the data channel.");
  } finally {
    for (const track of stream.getTracks()) track.stop();
  }
}
