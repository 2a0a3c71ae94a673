import assert from "node:assert/strict";
import { test } from "node:test";
import { ResponseGate } from "../src/gate";

const CREATE = { type: "response.create" };
const created = (id: string, conversation_id: string | null = "conv_1") => ({
  type: "response.created",
  response: { id, conversation_id },
});
const done = (id: string) => ({ type: "response.done", response: { id, status: "completed" } });
const text = (event: object) => JSON.stringify(event);

test("with nothing active a response.create goes at once; other events always do", () => {
  const gate = new ResponseGate();
  assert.equal(gate.offer(CREATE, text(CREATE)), true);
  const item = { type: "conversation.item.create", item: { type: "message" } };
  assert.equal(gate.offer(item, text(item)), true);
});

test("a response.create while a voice turn is answered waits for its response.done", () => {
  const gate = new ResponseGate();
  assert.deepEqual(gate.server(created("resp_voice")), []); // a server VAD turn
  const mine = { type: "response.create", response: { instructions: "be brief" } };
  assert.equal(gate.offer(mine, text(mine)), false);
  assert.equal(gate.waiting, 1);
  assert.deepEqual(gate.server({ type: "response.output_text.delta" }), []);
  assert.deepEqual(gate.server(done("resp_voice")), [text(mine)]);
  assert.equal(gate.waiting, 0);
  // the released request is in flight: the next one waits for its response, then its done
  assert.equal(gate.offer(CREATE, text(CREATE)), false);
  assert.deepEqual(gate.server(created("resp_mine")), []);
  assert.deepEqual(gate.server(done("resp_mine")), [text(CREATE)]);
});

test("plain requests queued back to back are answered by one response; others keep order", () => {
  const gate = new ResponseGate();
  gate.server(created("resp_1"));
  const a = { type: "response.create", response: { metadata: { n: "a" } } };
  for (const event of [CREATE, CREATE, a, CREATE, CREATE]) assert.equal(gate.offer(event, text(event)), false);
  assert.equal(gate.waiting, 3);
  const sent: string[] = [];
  let n = 1;
  sent.push(...gate.server(done(`resp_${n}`)));
  while (gate.waiting || sent.length < 3) {
    n += 1;
    assert.deepEqual(gate.server(created(`resp_${n}`)), []);
    const out = gate.server(done(`resp_${n}`));
    if (!out.length) break;
    sent.push(...out);
  }
  assert.deepEqual(sent, [text(CREATE), text(a), text(CREATE)]);
});

test("out-of-band responses neither wait nor block", () => {
  const gate = new ResponseGate();
  gate.server(created("resp_1"));
  const oob = { type: "response.create", response: { conversation: "none", metadata: { k: 1 } } };
  assert.equal(gate.offer(oob, text(oob)), true);
  assert.deepEqual(gate.server(created("resp_oob", null)), []);
  assert.deepEqual(gate.server(done("resp_1")), []);
  assert.equal(gate.offer(CREATE, text(CREATE)), true); // resp_oob does not count as active
});

test("a request refused because a voice turn started first is sent again after it", () => {
  const gate = new ResponseGate();
  assert.equal(gate.offer(CREATE, text(CREATE)), true);
  gate.server(created("resp_voice")); // raced ahead of ours
  const refused = {
    type: "error",
    error: { type: "invalid_request_error", code: "conversation_already_has_active_response" },
  };
  assert.deepEqual(gate.server(refused), []);
  assert.deepEqual(gate.server(done("resp_voice")), [text(CREATE)]);
});

test("a request refused for another reason is dropped, not retried; reset forgets", () => {
  const gate = new ResponseGate();
  const bad = { type: "response.create", response: { max_output_tokens: -1 } };
  assert.equal(gate.offer(bad, text(bad)), true);
  assert.deepEqual(gate.server({ type: "error", error: { code: "invalid_value" } }), []);
  assert.equal(gate.offer(CREATE, text(CREATE)), true); // nothing in flight any more
  gate.server(created("resp_1"));
  gate.offer(CREATE, text(CREATE));
  gate.reset();
  assert.equal(gate.waiting, 0);
  assert.equal(gate.offer(CREATE, text(CREATE)), true);
});
