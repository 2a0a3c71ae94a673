import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_ERROR_MESSAGE_CHARS, errorFromHttp, scrubSecrets } from "../src/errors";
import { KernelMinter } from "../src/token";
import { WidgetError } from "../src/types";

test("the OpenAI shape", () => {
  const body = JSON.stringify({
    error: { message: "Bad voice.", type: "invalid_request_error", code: "invalid_value", param: "session.audio.output.voice" },
  });
  assert.deepEqual(errorFromHttp(400, body), {
    type: "invalid_request_error",
    code: "invalid_value",
    message: "Bad voice.",
    param: "session.audio.output.voice",
  });
  const refused = '{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
  assert.equal(errorFromHttp(401, refused).message, "Incorrect API key provided: [redacted]");
});

test("Azure, APIM, FastAPI and string errors", () => {
  assert.deepEqual(errorFromHttp(401, '{"error":{"code":"401","message":"Access denied."}}'), {
    type: "invalid_request_error",
    code: "401",
    message: "Access denied.",
    param: null,
  });
  assert.equal(errorFromHttp(500, '{"error":{"code":500,"message":"boom"}}').code, "500");
  assert.deepEqual(errorFromHttp(429, '{"statusCode":429,"message":"Rate limit is exceeded."}'), {
    type: "rate_limit_error",
    code: null,
    message: "Rate limit is exceeded.",
    param: null,
  });
  assert.equal(errorFromHttp(404, '{"detail":"Not Found"}').message, "Not Found");
  assert.equal(errorFromHttp(404, '{"error":"model not found"}').message, "model not found");
  assert.equal(errorFromHttp(400, '{"foo":"bar"}').message, '{"foo":"bar"}');
  assert.equal(errorFromHttp(400, "{}").message, "");
  assert.equal(errorFromHttp(400, '{"error":null}').message, "");
});

test("rt_jupyter's own hint and already-decoded bodies", () => {
  const out = errorFromHttp(401, { error: { message: "refused", code: "upstream_auth", hint: "check the key" } });
  assert.deepEqual(out, { type: "invalid_request_error", code: "upstream_auth", message: "refused", param: null, hint: "check the key" });
  assert.equal(errorFromHttp(500, { error: undefined }).message, "");
  assert.equal(errorFromHttp(500, null).message, "");
});

test("text and HTML bodies", () => {
  assert.deepEqual(errorFromHttp(503, "upstream connect error\n  or disconnect"), {
    type: "server_error",
    code: null,
    message: "upstream connect error or disconnect",
    param: null,
  });
  assert.equal(errorFromHttp(400, "{not json").message, "{not json");
  const page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
  assert.equal(errorFromHttp(502, page, "text/html").message, "502 Bad Gateway");
  const untitled = "<p>Service &amp; co. <b>unavailable</b></p><script>var k = 1;</script>";
  assert.equal(errorFromHttp(503, untitled).message, "Service & co. unavailable");
});

test("huge bodies are cut, secrets scrubbed before the cut", () => {
  assert.equal(MAX_ERROR_MESSAGE_CHARS, 2000);
  const huge = errorFromHttp(500, "x".repeat(5_000_000));
  assert.equal(huge.message.length, 2000);
  assert.ok(huge.message.endsWith("…"));
  const secret = "Zsecretvalue12345";
  const cut = errorFromHttp(400, "a".repeat(1995) + secret + " and more", "", [secret]);
  assert.equal(cut.message, "a".repeat(1995) + "[red…");
  for (const body of [
    '{"error":{"message":"bad key sk-proj-ABCDEFGH123","code":"sk-proj-ABCDEFGH123"}}',
    "Authorization: Bearer ABCDEFGH123456 was refused (sk-proj-ABCDEFGH123)",
    '{"error":"ek_ABCDEFGH123 expired"}',
  ]) {
    const out = errorFromHttp(401, body);
    assert.ok(!JSON.stringify(out).includes("ABCDEFGH123"), body);
    assert.ok(out.message.includes("[redacted]"), body);
  }
  assert.equal(scrubSecrets("keys sk-abc123def and ek_456789 and Bearer abcdefgh12345"), "keys [redacted] and [redacted] and Bearer [redacted]");
});

test("hostile bodies (unclosed tags, endless key prefixes) still parse", () => {
  for (const body of ["<script".repeat(200_000), "<title".repeat(200_000), "<".repeat(1_000_000), "sk-".repeat(1_000_000)]) {
    assert.equal(typeof errorFromHttp(500, body).message, "string");
  }
});

test("kernel mint errors go through the parser", async () => {
  const minter = new KernelMinter(() => undefined);
  const failed = minter.mint({ session: {} }, 1000);
  minter.receive({ id: 1, ok: false, status: 500, error: "mint failed for sk-live-SECRETSECRET" });
  await assert.rejects(failed, (e: WidgetError) => e.message === "mint failed for [redacted]" && e.code === "http_500");
  const silent = minter.mint({ session: {} }, 1000);
  minter.receive({ id: 2, ok: false, status: 500 });
  await assert.rejects(silent, (e: WidgetError) => /Getting a session key failed \(kernel: HTTP 500\)/.test(e.message));
});
