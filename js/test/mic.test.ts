import assert from "node:assert/strict";
import { test } from "node:test";
import { Microphone } from "../src/mic";
import { Json } from "../src/types";
import { FakeModel } from "./fakes";

class FakeTrack {
  enabled = true;
  stopped = false;
  constructor(readonly id: string) {}
  stop() {
    this.stopped = true;
  }
}

function fakeStream(id: string) {
  const track = new FakeTrack(id);
  return { track, stream: { getAudioTracks: () => [track], getTracks: () => [track] } as unknown as MediaStream };
}

function mic(traits: Record<string, unknown> = { turn_detection: "server_vad", muted: false }) {
  const model = new FakeModel(traits);
  const notices: string[] = [];
  let emits = 0;
  const m = new Microphone({
    model,
    audioContext: () => null,
    emit: () => void emits++,
    notify: (e) => notices.push((e as Error).message),
  });
  return { model, m, notices, emits: () => emits };
}

test("the tracks are enabled unless muted; the mute trait is followed", () => {
  const { model, m } = mic();
  const { track, stream } = fakeStream("a");
  m.use(stream);
  assert.equal(m.stream, stream);
  assert.equal(track.enabled, true);
  m.setMuted(true);
  assert.equal(model.get("muted"), true);
  assert.equal(track.enabled, false);
  model.set("muted", false); // from the kernel
  assert.equal(track.enabled, true);
});

test("push-to-talk: the microphone hears only while held; press clears, release commits and responds", () => {
  const { model, m } = mic({ turn_detection: { type: "semantic_vad" }, muted: false });
  const { track, stream } = fakeStream("a");
  m.use(stream);
  m.setMode(true);
  assert.equal(model.get("turn_detection"), null);
  assert.equal(m.pushToTalk, true);
  assert.equal(track.enabled, false);
  const sent: Json[] = [];
  m.talk(true, (e) => sent.push(e));
  assert.equal(track.enabled, true);
  m.talk(true, (e) => sent.push(e)); // already held: nothing
  m.talk(false, (e) => sent.push(e));
  assert.equal(track.enabled, false);
  assert.deepEqual(sent, [
    { type: "input_audio_buffer.clear" },
    { type: "input_audio_buffer.commit" },
    { type: "response.create" },
  ]);
  // back to voice activity: the detection used before push-to-talk
  m.setMode(false);
  assert.deepEqual(model.get("turn_detection"), { type: "semantic_vad" });
  assert.equal(track.enabled, true);
  m.talk(true, (e) => sent.push(e));
  assert.equal(sent.length, 3);
});

test("a press that cannot be sent is a notice; the microphone still follows the button", () => {
  const { m, notices } = mic({ turn_detection: null, muted: false });
  const { track, stream } = fakeStream("a");
  m.use(stream);
  m.talk(true, () => {
    throw new Error("Not connected");
  });
  assert.deepEqual(notices, ["Not connected"]);
  assert.equal(m.holding, true);
  assert.equal(track.enabled, true);
});

test("choosing a device during a call replaces the track and stops the old one", async () => {
  const { model, m } = mic({ turn_detection: "server_vad", muted: false, audio_constraints: { echoCancellation: true } });
  const old = fakeStream("old");
  const next = fakeStream("next");
  const asked: unknown[] = [];
  const nav = {
    mediaDevices: {
      getUserMedia: async (c: unknown) => {
        asked.push(c);
        return next.stream;
      },
    },
  };
  Object.defineProperty(globalThis, "navigator", { value: nav, configurable: true, writable: true });
  await m.choose("dev1", null); // no call: only remembered
  assert.equal(m.deviceId, "dev1");
  assert.deepEqual(asked, []);
  m.use(old.stream);
  const replaced: string[] = [];
  await m.choose("dev2", async (t) => void replaced.push((t as unknown as FakeTrack).id));
  assert.deepEqual(asked, [{ audio: { echoCancellation: true, deviceId: { exact: "dev2" } }, video: false }]);
  assert.deepEqual(replaced, ["next"]);
  assert.equal(old.track.stopped, true);
  assert.equal(m.stream, next.stream);
  m.stop();
  assert.equal(next.track.stopped, true);
  assert.equal(m.stream, null);
  assert.equal(model.listeners("change:muted"), 1);
  m.dispose();
  assert.equal(model.listeners("change:muted"), 0);
  assert.equal(model.listeners("change:turn_detection"), 0);
});

test("stop lets go of the stream and forgets the button and speech", () => {
  const { m } = mic({ turn_detection: null, muted: false });
  const { track, stream } = fakeStream("a");
  m.use(stream);
  m.talk(true, () => undefined);
  m.speaking = true;
  m.stop();
  assert.equal(track.stopped, true);
  assert.equal(m.holding, false);
  assert.equal(m.speaking, false);
  assert.equal(m.stream, null);
});
