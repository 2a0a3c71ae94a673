// Test and benchmark hook: a data channel between two peer connections inside this page, whose
// messages enter the widget exactly where the call's `oai-events` messages do. It measures the
// relay to the kernel without a realtime service in the loop (`VoiceChat._loopback_test`).

import { nowMs } from "./types";

export interface LoopbackResult {
  sent: number;
  first_ms: number;
  last_ms: number;
}

/** Send `count` synthetic server events through an in-page data channel; every message received
 * is passed to `deliver` with its arrival time. `ratePerS` 0 sends as fast as the channel takes. */
export async function loopback(
  count: number,
  ratePerS: number,
  deliver: (text: string, at: number) => void,
): Promise<LoopbackResult> {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => undefined);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate).catch(() => undefined);
  const channel = a.createDataChannel("oai-events");
  let received = 0;
  let first = 0;
  let last = 0;
  const done = new Promise<void>((resolve) => {
    b.ondatachannel = (event) => {
      event.channel.onmessage = (m: MessageEvent) => {
        const at = nowMs();
        if (received === 0) first = at;
        last = at;
        received += 1;
        deliver(String(m.data), at);
        if (received === count) resolve();
      };
    };
  });
  const opened = new Promise<void>((resolve) => (channel.onopen = () => resolve()));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription!);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription!);
  await opened;
  channel.bufferedAmountLowThreshold = 256 * 1024;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (ratePerS > 0) {
      const due = start + (i * 1000) / ratePerS;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    } else if (channel.bufferedAmount > 1024 * 1024) {
      await new Promise<void>((r) => (channel.onbufferedamountlow = () => r()));
    }
    channel.send(JSON.stringify({ type: "rt.loopback", event_id: `event_lb${i}`, i, pad: "x".repeat(80) }));
  }
  await done;
  a.close();
  b.close();
  return { sent: count, first_ms: first, last_ms: last };
}
