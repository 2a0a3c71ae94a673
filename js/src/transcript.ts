// The live transcript: a reducer over the events on the data channel (server events as they
// arrive, client events as they are sent) into transcript entries. Pure: no DOM, no model.

import { Entry, Json } from "./types";

/** Beta event kinds under their GA names (the reducer speaks GA). */
export const BETA_KINDS: Record<string, string> = {
  "response.text.delta": "response.output_text.delta",
  "response.text.done": "response.output_text.done",
  "response.audio_transcript.delta": "response.output_audio_transcript.delta",
  "response.audio_transcript.done": "response.output_audio_transcript.done",
  "conversation.item.created": "conversation.item.added",
};

/** An event kind under its GA name. */
export function gaKind(type: string): string {
  return BETA_KINDS[type] ?? type;
}

/** The text of a message item's content parts (text, transcripts, `[picture]` for images). */
export function contentText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const part of content as Json[]) {
    if (typeof part?.text === "string") parts.push(part.text);
    else if (typeof part?.transcript === "string") parts.push(part.transcript);
    else if (part?.type === "input_image") parts.push("[picture]");
  }
  return parts.join(" ");
}

/** `{"city": "paris"}` → `city="paris"` (anything else as sent). */
export function formatArguments(text: string): string {
  try {
    const args = JSON.parse(text) as unknown;
    if (args && typeof args === "object" && !Array.isArray(args)) {
      return Object.entries(args as Json)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(", ");
    }
  } catch {
    /* shown as sent */
  }
  return text;
}

/** What a server event means beyond the entries: a notice to show (`""` clears it) and whether
 * the service hears speech. */
export interface Effect {
  notice?: string;
  speaking?: boolean;
}

/** A line of the saved transcript (the widget's `transcript` trait). */
export interface SavedLine {
  role: string;
  text: string;
  item_id: string;
}

/** The entries of this page's calls, in order. Entries are updated in place. */
export class Transcript {
  readonly entries = new Map<string, Entry>();

  private entry(id: string, role: Entry["role"]): Entry {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { id, role, text: "", done: false };
      this.entries.set(id, entry);
    }
    return entry;
  }

  /** Take a server event; `null` when its kind does not concern the widget (nothing to redraw). */
  server(event: Json): Effect | null {
    switch (gaKind(event.type as string)) {
      case "session.created":
        return { notice: "" };
      case "conversation.item.added": {
        const item = event.item as Json | undefined;
        if (item?.type === "message" && item.id && (item.role === "user" || item.role === "assistant")) {
          const entry = this.entry(item.id, item.role);
          const text = contentText(item.content);
          if (text) entry.text = text;
          if (item.role === "user" && text) entry.done = true;
        }
        return {};
      }
      case "response.output_item.added": {
        const item = event.item as Json | undefined;
        if (item?.type === "message" && item.id) this.entry(item.id, "assistant");
        return {};
      }
      case "conversation.item.input_audio_transcription.delta":
        this.entry(event.item_id, "user").text += String(event.delta ?? "");
        return {};
      case "conversation.item.input_audio_transcription.completed": {
        const entry = this.entry(event.item_id, "user");
        entry.text = String(event.transcript ?? "");
        entry.done = true;
        return {};
      }
      case "conversation.item.input_audio_transcription.failed": {
        const entry = this.entry(event.item_id, "user");
        entry.text = entry.text || "(speech not recognised)";
        entry.done = true;
        return {};
      }
      case "response.output_text.delta":
      case "response.output_audio_transcript.delta":
        this.entry(event.item_id, "assistant").text += String(event.delta ?? "");
        return {};
      case "response.output_text.done":
      case "response.output_audio_transcript.done": {
        const entry = this.entry(event.item_id, "assistant");
        entry.text = String(event.text ?? event.transcript ?? entry.text);
        entry.done = true;
        return {};
      }
      case "response.function_call_arguments.done": {
        const entry = this.entry(`call:${event.call_id}`, "tool");
        entry.text = `${event.name ?? "tool"}(${formatArguments(String(event.arguments ?? ""))})`;
        return {};
      }
      case "conversation.item.deleted":
        this.entries.delete(event.item_id);
        return {};
      case "conversation.item.truncated": {
        const entry = this.entries.get(event.item_id);
        if (entry && !entry.text.endsWith(" (interrupted)")) entry.text += " (interrupted)";
        return {};
      }
      case "input_audio_buffer.speech_started":
        return { speaking: true };
      case "input_audio_buffer.speech_stopped":
        return { speaking: false };
      case "error": {
        const err = event.error as Json | undefined;
        return { notice: `The realtime service reported an error: ${err?.message ?? "unknown error"}` };
      }
      case "response.done": {
        const response = event.response as Json | undefined;
        if (response?.status === "failed") {
          const detail = response.status_details?.error?.message ?? "no details";
          return { notice: `The response failed: ${detail}` };
        }
        return {};
      }
      default:
        return null;
    }
  }

  /** Take a client event as it is sent; whether an entry changed. */
  client(event: Json): boolean {
    if (event.type === "conversation.item.create" && event.item?.type === "function_call_output") {
      const entry = this.entry(`call:${event.item.call_id}`, "tool");
      entry.text = `${entry.text} → ${String(event.item.output ?? "")}`;
      entry.done = true;
      return true;
    }
    return false;
  }

  /** Entries to show: saved ones not seen live (earlier calls, a restored notebook), then live
   * ones (an unfinished live entry the saved transcript has in full shows the saved text). */
  show(saved: SavedLine[]): Entry[] {
    const out: Entry[] = [];
    const savedText = new Map<string, string>();
    for (const s of saved) {
      savedText.set(s.item_id, s.text);
      if (!this.entries.has(s.item_id)) {
        out.push({ id: s.item_id, role: s.role as Entry["role"], text: s.text, done: true });
      }
    }
    for (const entry of this.entries.values()) {
      const text = savedText.get(entry.id);
      if (text !== undefined && !entry.done && text.length >= entry.text.length) {
        out.push({ ...entry, text, done: true });
      } else {
        out.push(entry);
      }
    }
    return out;
  }
}
