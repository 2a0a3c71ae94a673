import assert from "node:assert/strict";
import { test } from "node:test";
import { KernelLink, readKernelMessage } from "../src/kernel";
import { WidgetError } from "../src/types";
import { FakeModel } from "./fakes";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test("kernel messages are read into typed commands; anything else is ignored", () => {
  assert.deepEqual(readKernelMessage({ type: "send", events: ['{"type":"response.create"}', 7] }), {
    type: "send",
    events: ['{"type":"response.create"}', "7"],
  });
  assert.deepEqual(readKernelMessage({ type: "send" }), { type: "send", events: [] });
  assert.deepEqual(readKernelMessage({ type: "connect" }), { type: "connect" });
  assert.deepEqual(readKernelMessage({ type: "hangup", extra: 1 }), { type: "hangup" });
  assert.deepEqual(readKernelMessage({ type: "ice", servers: [{ urls: "stun:x" }] }), {
    type: "ice",
    servers: [{ urls: "stun:x" }],
  });
  assert.deepEqual(readKernelMessage({ type: "ice", servers: null }), { type: "ice", servers: null });
  assert.deepEqual(readKernelMessage({ type: "loopback", count: "5", rate: "x" }), { type: "loopback", count: 5, rate: 0 });
  const minted = { type: "minted", id: 1, ok: true, token: {} };
  assert.deepEqual(readKernelMessage(minted), { type: "minted", content: minted });
  for (const other of [null, undefined, "connect", 3, {}, { type: "events" }, { type: "unknown" }]) {
    assert.equal(readKernelMessage(other), null);
  }
});

function link(model = new FakeModel()) {
  const calls: unknown[][] = [];
  const kernel = new KernelLink(model, {
    send: (text) => {
      if (text === "fail") throw new WidgetError("not_connected", "Not connected: click Connect first.");
      calls.push(["send", text]);
    },
    connect: () => calls.push(["connect"]),
    hangup: () => calls.push(["hangup"]),
    ice: (servers) => calls.push(["ice", servers]),
    serverMessage: (text, at) => calls.push(["server", text, at]),
  });
  return { model, kernel, calls };
}

test("the link dispatches the kernel's commands; a send that fails is noted to the kernel", async () => {
  const { model, kernel, calls } = link();
  model.fire("msg:custom", { type: "send", events: ["a", "fail", "b"] });
  model.fire("msg:custom", { type: "connect" });
  model.fire("msg:custom", { type: "ice", servers: [] });
  model.fire("msg:custom", { type: "hangup" });
  model.fire("msg:custom", { type: "nonsense" });
  assert.deepEqual(calls, [["send", "a"], ["send", "b"], ["connect"], ["ice", []], ["hangup"]]);
  await tick(5);
  const notes = (model.sent as { type: string; events: [string, number, string][] }[])
    .filter((m) => m.type === "events")
    .flatMap((m) => m.events.map((e) => [e[0], JSON.parse(e[2])]));
  assert.deepEqual(notes, [
    ["local", { type: "rt.send_failed", error: "Not connected: click Connect first.", event: "fail" }],
  ]);
  kernel.dispose();
});

test("hello, browser and mint go to the kernel; minted answers the mint", async () => {
  const { model, kernel } = link();
  kernel.hello();
  kernel.browser({ mic: "granted" });
  const pending = kernel.minter.mint({ model: "m", session: { type: "realtime" } });
  assert.deepEqual(model.sent, [
    { type: "hello" },
    { type: "browser", report: { mic: "granted" } },
    { type: "mint", id: 1, model: "m", session: { type: "realtime" } },
  ]);
  const token = { value: "ek_1", expires_at: 2e9, model: "m", dialect: "ga", sdp_url: "/rt", upstream: "local" };
  model.fire("msg:custom", { type: "minted", id: 1, ok: true, token });
  assert.deepEqual(await pending, token);
  kernel.dispose();
});

test("without a kernel: browser and the relay stay quiet, hello throws", async () => {
  const model = new FakeModel();
  model.failSend = true;
  const { kernel } = link(model);
  assert.throws(() => kernel.hello());
  kernel.browser({});
  kernel.relay.note("rt.status", { status: "idle" });
  kernel.relay.flush();
  await tick(5);
  kernel.dispose();
});

test("dispose stops listening and sends what the relay holds", () => {
  const { model, kernel, calls } = link();
  assert.equal(model.listeners("msg:custom"), 1);
  kernel.relay.push("in", '{"type":"x"}');
  kernel.dispose();
  assert.equal(model.listeners("msg:custom"), 0);
  model.fire("msg:custom", { type: "connect" });
  assert.deepEqual(calls, []);
  assert.equal((model.sent as { type: string }[]).filter((m) => m.type === "events").length, 1);
});
