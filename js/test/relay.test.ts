import assert from "node:assert/strict";
import { test } from "node:test";
import { Relay, RelayEntry } from "../src/relay";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("an idle relay sends at once; a burst is batched in order, nothing lost", async () => {
  const batches: { seq: number; events: RelayEntry[] }[] = [];
  const relay = new Relay((b) => batches.push(b), { intervalMs: 16 });
  relay.push("in", '{"type":"a"}');
  await Promise.resolve();
  assert.equal(batches.length, 1);
  for (let i = 0; i < 1000; i++) relay.push("in", JSON.stringify({ type: "x", i }));
  await tick(40);
  const all = batches.flatMap((b) => b.events.map((e) => e[2]));
  assert.equal(all.length, 1001);
  all.slice(1).forEach((text, i) => assert.equal(JSON.parse(text).i, i));
  assert.deepEqual(batches.map((b) => b.seq), batches.map((_, i) => i));
  assert.ok(batches.length <= 3, `burst split into ${batches.length} batches`);
});

test("batches are bounded in size", async () => {
  const batches: { events: RelayEntry[] }[] = [];
  const relay = new Relay((b) => batches.push(b), { intervalMs: 1, maxEvents: 10 });
  for (let i = 0; i < 35; i++) relay.push("out", "{}");
  await tick(50);
  assert.deepEqual(batches.map((b) => b.events.length).reduce((a, b) => a + b, 0), 35);
  assert.ok(batches.every((b) => b.events.length <= 10));
});

test("light traffic is never held back; a flood is batched per window", async () => {
  const batches: { events: RelayEntry[] }[] = [];
  const relay = new Relay((b) => batches.push(b), { intervalMs: 16, burst: 4 });
  for (let i = 0; i < 4; i++) {
    relay.push("in", "{}");
    await tick(1);
  }
  assert.equal(batches.length, 4); // four separate events, each sent at once
  const before = batches.length;
  for (let i = 0; i < 50; i++) {
    relay.push("in", "{}");
    await tick(0);
  }
  await tick(40);
  const flood = batches.slice(before);
  assert.equal(flood.reduce((n, b) => n + b.events.length, 0), 50);
  assert.ok(flood.length < 50);
});
