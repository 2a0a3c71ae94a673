import assert from "node:assert/strict";
import { test } from "node:test";
import { KernelMinter, fresh } from "../src/token";
import { WidgetError } from "../src/types";

const token = { value: "ek_1", model: "m", dialect: "ga", sdp_url: "/v1/realtime/calls", upstream: "local" };

test("a key counts as fresh only with time to spare", () => {
  const now = Date.now() / 1000;
  assert.equal(fresh(null), false);
  assert.equal(fresh({ ...token, expires_at: now + 600 } as never), true);
  assert.equal(fresh({ ...token, expires_at: now + 5 } as never), false); // expires in 5 s: mint again
});

test("kernel minting: request ids, answers, errors in plain words", async () => {
  const sent: any[] = [];
  const minter = new KernelMinter((m) => sent.push(m));
  const ok = minter.mint({ session: { type: "realtime" } }, 1000);
  const bad = minter.mint({ session: { type: "realtime" } }, 1000);
  assert.deepEqual(sent.map((m) => [m.type, m.id]), [["mint", 1], ["mint", 2]]);
  minter.receive({ id: 2, ok: false, status: 401, error: { code: "upstream_auth", message: "refused", hint: "check the key" } });
  minter.receive({ id: 1, ok: true, token: { ...token, expires_at: 1 } });
  assert.equal((await ok).value, "ek_1");
  await assert.rejects(bad, (e: WidgetError) => e.code === "upstream_auth" && e.hint === "check the key");
  const silent = minter.mint({ session: {} }, 20);
  await assert.rejects(silent, (e: WidgetError) => e.code === "kernel_silent" && /busy/.test(e.message));
});

test("the token's provider reaches the call (string fields only), for the kernel's price table", async () => {
  const minter = new KernelMinter(() => undefined);
  const ok = minter.mint({ session: {} }, 1000);
  const provider = { name: "azure", layout: "azure-v1", model: "my-rt", runs: "gpt-realtime", key: 1 };
  minter.receive({ id: 1, ok: true, token: { ...token, expires_at: 1, provider } });
  assert.deepEqual((await ok).provider, { name: "azure", layout: "azure-v1", model: "my-rt", runs: "gpt-realtime" });
  const bare = minter.mint({ session: {} }, 1000);
  minter.receive({ id: 2, ok: true, token: { ...token, expires_at: 1, provider: "azure" } });
  assert.equal((await bare).provider, undefined);
});
