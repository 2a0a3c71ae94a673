// The microphone of a call: the stream and its level meter, the chosen device, mute and
// push-to-talk (the `muted` and `turn_detection` traits).

import { Meter, openMic } from "./audio";
import { AnyModel, Json } from "./types";

/** What the microphone needs from its controller. */
export interface MicHost {
  readonly model: AnyModel;
  /** The page's audio context (for the meter), if audio works here. */
  audioContext(): AudioContext | null;
  /** Tell the views. */
  emit(): void;
  /** Show an error as a notice. */
  notify(e: unknown): void;
}

export class Microphone {
  meter: Meter | null = null;
  deviceId: string | null = null;
  /** Push-to-talk: the button is held. */
  holding = false;
  /** The service hears speech (server VAD). */
  speaking = false;
  /** The turn detection to go back to when push-to-talk is switched off. */
  lastVad: unknown = "server_vad";
  private current: MediaStream | null = null;

  constructor(private readonly host: MicHost) {
    host.model.on("change:muted", this.apply);
    host.model.on("change:turn_detection", this.onMode);
    const td = host.model.get("turn_detection");
    if (td !== null && td !== undefined) this.lastVad = td;
  }

  /** The stream of the call, if one is up. */
  get stream(): MediaStream | null {
    return this.current;
  }

  get pushToTalk(): boolean {
    return this.host.model.get("turn_detection") === null;
  }

  /** Open the chosen microphone (not yet the call's: see `use`). */
  open(): Promise<MediaStream> {
    const constraints = (this.host.model.get("audio_constraints") as MediaTrackConstraints) ?? {};
    return openMic(constraints, this.deviceId);
  }

  /** Make `stream` the call's microphone. */
  use(stream: MediaStream): void {
    this.current = stream;
    this.measure(stream);
    this.apply();
  }

  private measure(stream: MediaStream): void {
    const context = this.host.audioContext();
    if (context) {
      this.meter?.disconnect();
      this.meter = new Meter(context, stream);
    }
  }

  /** Enable the tracks when the microphone should hear: not muted, and in push-to-talk mode only
   * while the button is held. */
  readonly apply = (): void => {
    const muted = Boolean(this.host.model.get("muted"));
    const open = !muted && (!this.pushToTalk || this.holding);
    for (const track of this.current?.getAudioTracks() ?? []) track.enabled = open;
    this.host.emit();
  };

  private readonly onMode = (): void => {
    const td = this.host.model.get("turn_detection");
    if (td !== null && td !== undefined) this.lastVad = td;
    this.holding = false;
    this.apply();
  };

  setMuted(muted: boolean): void {
    this.host.model.set("muted", muted);
    this.host.model.save_changes();
    this.apply();
  }

  setMode(pushToTalk: boolean): void {
    this.host.model.set("turn_detection", pushToTalk ? null : this.lastVad ?? "server_vad");
    this.host.model.save_changes();
    this.onMode();
  }

  /** Push-to-talk: open the microphone while held; on release commit the turn and respond.
   * `send` puts a client event on the data channel. */
  talk(down: boolean, send: (event: Json) => void): void {
    if (!this.pushToTalk || down === this.holding) return;
    this.holding = down;
    try {
      if (down) {
        send({ type: "input_audio_buffer.clear" });
      } else {
        send({ type: "input_audio_buffer.commit" });
        send({ type: "response.create" });
      }
    } catch (e) {
      this.host.notify(e);
    }
    this.apply();
  }

  /** Switch to another device; during a call `replaceTrack` puts its track on the connection. */
  async choose(deviceId: string | null, replaceTrack: ((track: MediaStreamTrack) => Promise<void>) | null): Promise<void> {
    this.deviceId = deviceId;
    if (!this.current || !replaceTrack) return;
    try {
      const next = await this.open();
      const track = next.getAudioTracks()[0];
      await replaceTrack(track);
      for (const old of (this.current as MediaStream).getTracks()) old.stop();
      this.current = next;
      this.measure(next);
      this.apply();
    } catch (e) {
      this.host.notify(e);
      this.host.emit();
    }
  }

  /** Let go of the microphone (the call ended). */
  stop(): void {
    if (this.current) for (const track of this.current.getTracks()) track.stop();
    this.current = null;
    this.meter?.disconnect();
    this.meter = null;
    this.holding = false;
    this.speaking = false;
  }

  dispose(): void {
    this.host.model.off("change:muted", this.apply);
    this.host.model.off("change:turn_detection", this.onMode);
  }
}
