import assert from "node:assert/strict";
import { test } from "node:test";
import { BETA_KINDS, Transcript, contentText, formatArguments, gaKind } from "../src/transcript";
import { Json } from "../src/types";

/** Feed server events; the effects in order. */
function feed(t: Transcript, ...events: Json[]) {
  return events.map((e) => t.server(e));
}

const entries = (t: Transcript) => [...t.entries.values()];

test("a spoken user turn: transcription deltas, then completed", () => {
  const t = new Transcript();
  assert.deepEqual(
    feed(
      t,
      { type: "conversation.item.added", item: { id: "u1", type: "message", role: "user", content: [{ type: "input_audio" }] } },
      { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "What's the " },
      { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "weathr" },
    ),
    [{}, {}, {}],
  );
  assert.deepEqual(entries(t), [{ id: "u1", role: "user", text: "What's the weathr", done: false }]);
  t.server({ type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "What's the weather?" });
  assert.deepEqual(entries(t), [{ id: "u1", role: "user", text: "What's the weather?", done: true }]);
});

test("a failed transcription keeps what was heard, or says so", () => {
  const t = new Transcript();
  feed(
    t,
    { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "hello" },
    { type: "conversation.item.input_audio_transcription.failed", item_id: "u1", error: { message: "x" } },
    { type: "conversation.item.input_audio_transcription.failed", item_id: "u2", error: { message: "x" } },
  );
  assert.deepEqual(entries(t), [
    { id: "u1", role: "user", text: "hello", done: true },
    { id: "u2", role: "user", text: "(speech not recognised)", done: true },
  ]);
});

test("a typed user message is done as soon as it is added; an empty one waits", () => {
  const t = new Transcript();
  feed(
    t,
    { type: "conversation.item.added", item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] } },
    {
      type: "conversation.item.added",
      item: { id: "u2", type: "message", role: "user", content: [{ type: "input_image", image_url: "data:," }] },
    },
    { type: "conversation.item.added", item: { id: "u3", type: "message", role: "user", content: [] } },
    { type: "conversation.item.added", item: { id: "s1", type: "message", role: "system", content: [{ type: "input_text", text: "be brief" }] } },
    { type: "conversation.item.added", item: { id: "f1", type: "function_call", name: "f" } },
  );
  assert.deepEqual(entries(t), [
    { id: "u1", role: "user", text: "hi", done: true },
    { id: "u2", role: "user", text: "[picture]", done: true },
    { id: "u3", role: "user", text: "", done: false },
  ]);
});

test("GA assistant text and audio transcript: deltas, then done", () => {
  const t = new Transcript();
  feed(
    t,
    { type: "response.output_item.added", item: { id: "a1", type: "message", role: "assistant" } },
    { type: "response.output_item.added", item: { id: "c1", type: "function_call" } },
    { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "It is " },
    { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "sunny" },
    { type: "response.output_text.delta", item_id: "a2", delta: "Hello" },
  );
  assert.deepEqual(entries(t), [
    { id: "a1", role: "assistant", text: "It is sunny", done: false },
    { id: "a2", role: "assistant", text: "Hello", done: false },
  ]);
  feed(
    t,
    { type: "response.output_audio_transcript.done", item_id: "a1", transcript: "It is sunny." },
    { type: "response.output_text.done", item_id: "a2", text: "Hello!" },
  );
  assert.deepEqual(entries(t), [
    { id: "a1", role: "assistant", text: "It is sunny.", done: true },
    { id: "a2", role: "assistant", text: "Hello!", done: true },
  ]);
});

test("a done without its text keeps the deltas", () => {
  const t = new Transcript();
  feed(t, { type: "response.output_text.delta", item_id: "a1", delta: "Hi" }, { type: "response.output_text.done", item_id: "a1" });
  assert.deepEqual(entries(t), [{ id: "a1", role: "assistant", text: "Hi", done: true }]);
});

test("beta kinds read as their GA names", () => {
  assert.equal(gaKind("response.audio_transcript.delta"), "response.output_audio_transcript.delta");
  assert.equal(gaKind("response.output_text.delta"), "response.output_text.delta");
  assert.equal(Object.keys(BETA_KINDS).length, 5);
  const t = new Transcript();
  const effects = feed(
    t,
    { type: "conversation.item.created", item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] } },
    { type: "response.audio_transcript.delta", item_id: "a1", delta: "Hel" },
    { type: "response.audio_transcript.done", item_id: "a1", transcript: "Hello." },
    { type: "response.text.delta", item_id: "a2", delta: "Bon" },
    { type: "response.text.done", item_id: "a2", text: "Bonjour." },
  );
  assert.deepEqual(effects, [{}, {}, {}, {}, {}]);
  assert.deepEqual(entries(t), [
    { id: "u1", role: "user", text: "hi", done: true },
    { id: "a1", role: "assistant", text: "Hello.", done: true },
    { id: "a2", role: "assistant", text: "Bonjour.", done: true },
  ]);
});

test("a tool call shows its arguments, then its output as the page sends it", () => {
  const t = new Transcript();
  t.server({
    type: "response.function_call_arguments.done",
    call_id: "call_7",
    name: "get_weather",
    arguments: '{"city": "Paris", "days": 2}',
  });
  assert.deepEqual(entries(t), [{ id: "call:call_7", role: "tool", text: 'get_weather(city="Paris", days=2)', done: false }]);
  const changed = t.client({
    type: "conversation.item.create",
    item: { type: "function_call_output", call_id: "call_7", output: '{"temp": 21}' },
  });
  assert.equal(changed, true);
  assert.deepEqual(entries(t), [
    { id: "call:call_7", role: "tool", text: 'get_weather(city="Paris", days=2) → {"temp": 21}', done: true },
  ]);
  // arguments that are not a JSON object are shown as sent; a nameless call is a "tool"
  t.server({ type: "response.function_call_arguments.done", call_id: "c2", arguments: "[1, 2]" });
  assert.equal(t.entries.get("call:c2")?.text, "tool([1, 2])");
});

test("other client events leave the transcript alone", () => {
  const t = new Transcript();
  assert.equal(t.client({ type: "response.create" }), false);
  assert.equal(t.client({ type: "conversation.item.create", item: { type: "message", role: "user", content: [] } }), false);
  assert.deepEqual(entries(t), []);
});

test("deletion removes an entry; truncation marks it interrupted once", () => {
  const t = new Transcript();
  feed(
    t,
    { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Once upon" },
    { type: "response.output_audio_transcript.delta", item_id: "a2", delta: "gone" },
    { type: "conversation.item.truncated", item_id: "a1", content_index: 0, audio_end_ms: 900 },
    { type: "conversation.item.truncated", item_id: "a1", content_index: 0, audio_end_ms: 900 },
    { type: "conversation.item.truncated", item_id: "unknown" },
    { type: "conversation.item.deleted", item_id: "a2" },
  );
  assert.deepEqual(entries(t), [{ id: "a1", role: "assistant", text: "Once upon (interrupted)", done: false }]);
});

test("notices and speech: what the events mean beyond entries", () => {
  const t = new Transcript();
  assert.deepEqual(
    feed(
      t,
      { type: "session.created", session: {} },
      { type: "input_audio_buffer.speech_started" },
      { type: "input_audio_buffer.speech_stopped" },
      { type: "error", error: { message: "bad event" } },
      { type: "error" },
      { type: "response.done", response: { status: "failed", status_details: { error: { message: "quota" } } } },
      { type: "response.done", response: { status: "failed" } },
      { type: "response.done", response: { status: "completed" } },
      { type: "rate_limits.updated" },
      { type: "response.output_audio.delta", delta: "AAAA" },
    ),
    [
      { notice: "" },
      { speaking: true },
      { speaking: false },
      { notice: "The realtime service reported an error: bad event" },
      { notice: "The realtime service reported an error: unknown error" },
      { notice: "The response failed: quota" },
      { notice: "The response failed: no details" },
      {},
      null,
      null,
    ],
  );
  assert.deepEqual(entries(t), []);
});

test("show: saved lines not seen live first, then live entries; the saved text completes a live one", () => {
  const t = new Transcript();
  feed(
    t,
    { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "It is" },
    { type: "response.output_text.delta", item_id: "a2", delta: "longer live text" },
    { type: "response.output_text.done", item_id: "a3", text: "done live" },
  );
  const shown = t.show([
    { role: "user", text: "earlier", item_id: "old" },
    { role: "assistant", text: "It is sunny.", item_id: "a1" },
    { role: "assistant", text: "short", item_id: "a2" },
    { role: "assistant", text: "saved", item_id: "a3" },
  ]);
  assert.deepEqual(shown, [
    { id: "old", role: "user", text: "earlier", done: true },
    { id: "a1", role: "assistant", text: "It is sunny.", done: true },
    { id: "a2", role: "assistant", text: "longer live text", done: false },
    { id: "a3", role: "assistant", text: "done live", done: true },
  ]);
  // the live entry itself is not changed by showing
  assert.deepEqual(t.entries.get("a1"), { id: "a1", role: "assistant", text: "It is", done: false });
});

test("contentText and formatArguments", () => {
  assert.equal(
    contentText([{ type: "input_text", text: "look" }, { type: "input_image" }, { type: "input_audio", transcript: "this" }, null]),
    "look [picture] this",
  );
  assert.equal(contentText("text"), "");
  assert.equal(formatArguments('{"a": 1, "b": "x", "c": [true]}'), 'a=1, b="x", c=[true]');
  assert.equal(formatArguments("not json"), "not json");
  assert.equal(formatArguments("42"), "42");
  assert.equal(formatArguments(""), "");
});
