// Copying text: the async Clipboard API where the page may use it (secure origins), else a
// hidden textarea and `document.execCommand("copy")` (insecure origins, older browsers).

/** What copying needs from the page (injectable for tests). */
export interface ClipboardEnv {
  clipboard?: { writeText(text: string): Promise<void> } | null;
  secure?: boolean;
  document?: Document;
}

/** Copy `text`; resolves to whether it reached the clipboard. Never throws. */
export async function copyText(text: string, env: ClipboardEnv = {}): Promise<boolean> {
  const g = globalThis as { navigator?: Navigator; isSecureContext?: boolean; document?: Document };
  const clipboard = "clipboard" in env ? env.clipboard : g.navigator?.clipboard;
  const secure = env.secure ?? g.isSecureContext ?? false;
  if (clipboard?.writeText && secure) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      /* not allowed (no focus, no permission): try the fallback */
    }
  }
  const doc = env.document ?? g.document;
  return doc ? copyWithTextarea(text, doc) : false;
}

/** The fallback: select the text in an off-screen textarea and run the copy command. */
export function copyWithTextarea(text: string, doc: Document): boolean {
  const active = doc.activeElement as HTMLElement | null;
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.setAttribute("aria-hidden", "true");
  area.tabIndex = -1;
  Object.assign(area.style, { position: "fixed", top: "0", left: "-9999px", opacity: "0", pointerEvents: "none" });
  doc.body.append(area);
  let ok = false;
  try {
    area.focus({ preventScroll: true });
    area.select();
    area.setSelectionRange(0, text.length);
    ok = doc.execCommand("copy");
  } catch {
    ok = false;
  } finally {
    area.remove();
    active?.focus?.({ preventScroll: true });
  }
  return ok;
}
