import assert from "node:assert/strict";
import { test } from "node:test";
import { browserReport, ReportScope } from "../src/report";

test("secure page with WebRTC, two microphones, permission granted", async () => {
  const scope = {
    isSecureContext: true,
    RTCPeerConnection: class {},
    navigator: {
      userAgent: "Test/1.0",
      mediaDevices: {
        enumerateDevices: async () => [{ kind: "audioinput" }, { kind: "audioinput" }, { kind: "videoinput" }, { kind: "audiooutput" }],
      },
      permissions: { query: async ({ name }: { name: string }) => ({ state: name === "microphone" ? "granted" : "denied" }) },
    },
  } as unknown as ReportScope;
  assert.deepEqual(await browserReport(scope), {
    secure_context: true,
    webrtc: true,
    media_devices: true,
    microphones: 2,
    microphone_permission: "granted",
    user_agent: "Test/1.0",
  });
});

test("insecure page: no mediaDevices, permissions query unsupported", async () => {
  const scope = {
    isSecureContext: false,
    navigator: {
      userAgent: "Old/0.1",
      permissions: { query: async () => Promise.reject(new TypeError("'microphone' is not a valid PermissionName")) },
    },
  } as unknown as ReportScope;
  assert.deepEqual(await browserReport(scope), {
    secure_context: false,
    webrtc: false,
    media_devices: false,
    microphones: null,
    microphone_permission: "unknown",
    user_agent: "Old/0.1",
  });
  assert.equal((await browserReport({})).microphones, null);
});

test("enumerateDevices failing counts as unknown", async () => {
  const scope = {
    isSecureContext: true,
    navigator: { userAgent: "", mediaDevices: { enumerateDevices: async () => Promise.reject(new Error("no")) } },
  } as unknown as ReportScope;
  const report = await browserReport(scope);
  assert.equal(report.microphones, null);
  assert.equal(report.media_devices, true);
  assert.equal(report.microphone_permission, "unknown");
});
