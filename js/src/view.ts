// The widget's DOM: status, controls, level meters, live transcript, text box.

import { listMics } from "./audio";
import { copyText } from "./clipboard";
import { Controller } from "./controller";
import { renderMarkdown } from "./markdown";
import { AnyModel, Entry, Status } from "./types";

const STATUS_TEXT: Record<Status, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  connected: "Connected",
  dropped: "Call dropped",
  closed: "Hung up",
  error: "Could not connect",
};

const ROLE_LABEL: Record<Entry["role"], string> = {
  user: "You",
  assistant: "Assistant",
  tool: "Tool",
  system: "System",
  note: "Note",
};

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") el.className = value;
    else el.setAttribute(key, value);
  }
  for (const child of children) el.append(child);
  return el;
}

export class View {
  private readonly root: HTMLDivElement;
  private readonly dot: HTMLSpanElement;
  private readonly statusText: HTMLSpanElement;
  private readonly connectButton: HTMLButtonElement;
  private readonly hangupButton: HTMLButtonElement;
  private readonly muteButton: HTMLButtonElement;
  private readonly modeSelect: HTMLSelectElement;
  private readonly talkButton: HTMLButtonElement;
  private readonly cameraButton: HTMLButtonElement;
  private readonly micSelect: HTMLSelectElement;
  private readonly micBar: HTMLDivElement;
  private readonly outBar: HTMLDivElement;
  private readonly errorBox: HTMLDivElement;
  private readonly errorText: HTMLSpanElement;
  private readonly reconnectButton: HTMLButtonElement;
  private readonly noticeBox: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly input: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly nodes = new Map<string, { el: HTMLDivElement; body: HTMLDivElement; text: string; done: boolean }>();
  private readonly unsubscribe: () => void;
  private frame = 0;
  private disposed = false;

  constructor(
    private readonly controller: Controller,
    private readonly model: AnyModel,
    el: HTMLElement,
  ) {
    this.dot = h("span", { class: "rtj-dot", "aria-hidden": "true" });
    this.statusText = h("span", { class: "rtj-status", role: "status" });
    this.micSelect = h("select", { class: "rtj-mic", title: "Microphone", "aria-label": "Microphone" });
    this.connectButton = h("button", { class: "rtj-connect rtj-primary", type: "button" }, "Connect");
    this.hangupButton = h("button", { class: "rtj-hangup", type: "button" }, "Hang up");
    this.muteButton = h("button", { class: "rtj-mute", type: "button", "aria-pressed": "false" }, "Mute");
    this.modeSelect = h(
      "select",
      { class: "rtj-mode", title: "Turn taking", "aria-label": "Turn taking" },
      h("option", { value: "vad" }, "Hands-free"),
      h("option", { value: "ptt" }, "Push to talk"),
    );
    this.talkButton = h("button", { class: "rtj-talk", type: "button" }, "Hold to talk");
    this.cameraButton = h("button", { class: "rtj-camera", type: "button", title: "Send a camera picture" }, "Send picture");
    this.micBar = h("div", { class: "rtj-bar" });
    this.outBar = h("div", { class: "rtj-bar" });
    this.errorText = h("span", { class: "rtj-error-text" });
    this.reconnectButton = h("button", { class: "rtj-reconnect", type: "button" }, "Reconnect");
    this.errorBox = h("div", { class: "rtj-error", role: "alert" }, this.errorText, this.reconnectButton);
    this.noticeBox = h("div", { class: "rtj-notice" });
    this.list = h("div", { class: "rtj-transcript", "aria-live": "polite" });
    this.input = h("input", {
      class: "rtj-text",
      type: "text",
      placeholder: "Type a message…",
      "aria-label": "Message",
      "data-lm-suppress-shortcuts": "true",
    });
    this.sendButton = h("button", { class: "rtj-send", type: "submit" }, "Send");
    const form = h("form", { class: "rtj-compose" }, this.input, this.sendButton);

    this.root = h(
      "div",
      { class: "rtj" },
      h("div", { class: "rtj-top" }, this.dot, this.statusText, h("span", { class: "rtj-spacer" }), this.micSelect),
      h(
        "div",
        { class: "rtj-controls" },
        this.connectButton,
        this.hangupButton,
        this.muteButton,
        this.modeSelect,
        this.talkButton,
        this.cameraButton,
      ),
      h(
        "div",
        { class: "rtj-meters" },
        h("span", { class: "rtj-meter-label" }, "Mic"),
        h("div", { class: "rtj-meter rtj-meter-in" }, this.micBar),
        h("span", { class: "rtj-meter-label" }, "Model"),
        h("div", { class: "rtj-meter rtj-meter-out" }, this.outBar),
      ),
      this.errorBox,
      this.noticeBox,
      this.list,
      form,
    );
    el.classList.add("rtj-widget");
    el.append(this.root);

    this.connectButton.addEventListener("click", () => void controller.connect());
    this.reconnectButton.addEventListener("click", () => void controller.connect());
    this.hangupButton.addEventListener("click", () => controller.hangup());
    this.muteButton.addEventListener("click", () => controller.setMuted(!model.get("muted")));
    this.modeSelect.addEventListener("change", () => controller.setMode(this.modeSelect.value === "ptt"));
    this.cameraButton.addEventListener("click", () => void controller.sendPicture());
    const down = (e: Event) => {
      e.preventDefault();
      controller.talk(true);
    };
    const up = () => controller.talk(false);
    this.talkButton.addEventListener("pointerdown", down);
    this.talkButton.addEventListener("pointerup", up);
    this.talkButton.addEventListener("pointerleave", up);
    this.talkButton.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) down(e);
    });
    this.talkButton.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") up();
    });
    this.micSelect.addEventListener("change", () => void controller.chooseMic(this.micSelect.value || null));
    this.list.addEventListener("click", this.onCopy);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = this.input.value;
      try {
        controller.say(text);
        this.input.value = "";
      } catch (err) {
        controller.notice = (err as Error).message;
        controller.emit();
      }
    });
    for (const type of ["keydown", "keyup", "keypress"]) {
      this.input.addEventListener(type, (e) => e.stopPropagation());
    }
    if (navigator.mediaDevices?.addEventListener) {
      navigator.mediaDevices.addEventListener("devicechange", this.refreshMics);
    }

    this.unsubscribe = controller.subscribe(() => this.update());
    for (const name of ["status", "error", "muted", "turn_detection", "transcript", "camera", "upstream"]) {
      model.on(`change:${name}`, this.onChange);
    }
    void this.refreshMics();
    void controller.reportBrowser();
    this.update();
  }

  /** A code block's Copy button: copy its text, say "Copied" for a moment. */
  private readonly onCopy = (e: MouseEvent): void => {
    const button = (e.target as Element | null)?.closest?.("button.rtj-copy") as HTMLButtonElement | null;
    if (!button || !this.list.contains(button)) return;
    e.preventDefault();
    const code = button.parentElement?.querySelector("pre code") ?? null;
    void copyText(code?.textContent ?? "").then((ok) => {
      if (!ok && code) {
        // nothing could copy: select the code so that Ctrl+C / Cmd+C does
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection?.removeAllRanges();
        selection?.addRange(range);
      }
      const mac = /Mac|iPhone|iPad/.test(navigator.userAgent);
      button.textContent = ok ? "Copied" : `Press ${mac ? "⌘C" : "Ctrl+C"}`;
      button.classList.toggle("rtj-copied", ok);
      window.clearTimeout(Number(button.dataset.timer || 0));
      button.dataset.timer = String(
        window.setTimeout(() => {
          button.textContent = "Copy";
          button.classList.remove("rtj-copied");
          delete button.dataset.timer;
        }, ok ? 1500 : 4000),
      );
    });
  };

  private readonly onChange = (): void => this.controller.emit();

  private readonly refreshMics = async (): Promise<void> => {
    const mics = await listMics();
    if (this.disposed) return;
    const current = this.controller.deviceId ?? "";
    this.micSelect.replaceChildren(h("option", { value: "" }, "Default microphone"));
    for (const mic of mics) {
      if (!mic.id || mic.id === "default") continue;
      this.micSelect.append(h("option", { value: mic.id }, mic.label));
    }
    this.micSelect.value = current;
  };

  /** Level meters, every frame while a call is up. */
  private tick = (): void => {
    this.frame = 0;
    if (this.disposed) return;
    const c = this.controller;
    const width = (meter: { level(): number } | null) => `${Math.round((meter ? meter.level() : 0) * 100)}%`;
    this.micBar.style.width = width(c.micMeter);
    this.outBar.style.width = width(c.outMeter);
    if (c.micMeter || c.outMeter) this.frame = requestAnimationFrame(this.tick);
  };

  private update(): void {
    if (this.disposed) return;
    const c = this.controller;
    const status = c.status;
    const connected = status === "connected";
    const busy = status === "connecting" || connected;
    const upstream = this.model.get("upstream") as string;
    let text = STATUS_TEXT[status] ?? status;
    if (connected) {
      const where = upstream === "local" ? "local service" : upstream === "remote" ? "OpenAI" : "";
      const how = c.pushToTalk ? (c.holding ? "listening" : "hold the button to talk") : c.speaking ? "hearing you" : "listening";
      text = `Connected${where ? ` to the ${where}` : ""} — ${how}`;
      if (this.model.get("muted")) text = `Connected — microphone muted`;
    }
    this.statusText.textContent = text;
    this.root.dataset.status = status;
    this.dot.dataset.status = status;
    this.connectButton.disabled = busy;
    this.connectButton.textContent = status === "dropped" || status === "error" ? "Connect again" : "Connect";
    this.hangupButton.disabled = !busy;
    const muted = Boolean(this.model.get("muted"));
    this.muteButton.textContent = muted ? "Unmute" : "Mute";
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.modeSelect.value = c.pushToTalk ? "ptt" : "vad";
    this.talkButton.hidden = !c.pushToTalk;
    this.talkButton.disabled = !connected;
    this.talkButton.classList.toggle("rtj-active", c.holding);
    this.cameraButton.hidden = !this.model.get("camera");
    this.cameraButton.disabled = !connected;
    this.input.disabled = !connected;
    this.sendButton.disabled = !connected;
    const error = (this.model.get("error") as string) || "";
    this.errorText.textContent = error;
    this.errorBox.hidden = !error;
    this.reconnectButton.hidden = !(c.reconnectable && (status === "dropped" || status === "error"));
    this.noticeBox.textContent = c.notice;
    this.noticeBox.hidden = !c.notice;
    this.renderTranscript(c.transcript());
    if (connected && this.frame === 0) {
      this.frame = requestAnimationFrame(this.tick);
      void this.refreshMics();
    }
  }

  private renderTranscript(entries: Entry[]): void {
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const seen = new Set<string>();
    let previous: HTMLDivElement | null = null;
    for (const entry of entries) {
      seen.add(entry.id);
      let node = this.nodes.get(entry.id);
      if (!node) {
        const body = h("div", { class: "rtj-body" });
        const el = h(
          "div",
          { class: "rtj-entry", "data-role": entry.role, "data-item": entry.id },
          h("div", { class: "rtj-role" }, ROLE_LABEL[entry.role] ?? entry.role),
          body,
        );
        node = { el, body, text: "\u0000", done: false };
        this.nodes.set(entry.id, node);
      }
      const expected: ChildNode | null = previous ? previous.nextSibling : this.list.firstChild;
      if (expected !== node.el) this.list.insertBefore(node.el, expected);
      previous = node.el;
      if (node.text !== entry.text || node.done !== entry.done) {
        node.text = entry.text;
        node.done = entry.done;
        node.el.classList.toggle("rtj-pending", !entry.done);
        if (entry.role === "assistant") {
          node.body.innerHTML = renderMarkdown(entry.text, { copy: true }); // safe: everything escaped first
        } else {
          node.body.textContent = entry.text || (entry.done ? "" : "…");
        }
      }
    }
    for (const [id, node] of this.nodes) {
      if (!seen.has(id)) {
        node.el.remove();
        this.nodes.delete(id);
      }
    }
    this.list.hidden = entries.length === 0;
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.unsubscribe();
    this.list.removeEventListener("click", this.onCopy);
    for (const name of ["status", "error", "muted", "turn_detection", "transcript", "camera", "upstream"]) {
      this.model.off(`change:${name}`, this.onChange);
    }
    if (navigator.mediaDevices?.removeEventListener) {
      navigator.mediaDevices.removeEventListener("devicechange", this.refreshMics);
    }
    this.root.remove();
  }
}
