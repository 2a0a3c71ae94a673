// A tiny, safe Markdown renderer for assistant text: everything is escaped first, then a few
// constructs are turned into tags we write ourselves (bold, italic, inline code, fenced code
// blocks, headings, bullet lists, http(s) links). No raw HTML ever reaches the DOM. With
// `{ copy: true }` each code block gets a Copy button (the view handles its clicks).

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const HOLE = "\u0000";

function inline(raw: string): string {
  const codes: string[] = [];
  let text = raw.replace(/`([^`\n]+)`/g, (_m, code: string) => {
    codes.push(`<code>${escapeHtml(code)}</code>`);
    return `${HOLE}${codes.length - 1}${HOLE}`;
  });
  text = escapeHtml(text);
  const links: string[] = [];
  text = text.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()<>"]+)\)/g, (_m, label: string, url: string) => {
    links.push(`<a href="${url}" target="_blank" rel="noopener noreferrer nofollow">${label}</a>`);
    return `${HOLE}L${links.length - 1}${HOLE}`;
  });
  text = text
    .replace(/\*\*(?=\S)([^*\n]*?\S)\*\*/g, "<strong>$1</strong>")
    .replace(/__(?=\S)([^_\n]*?\S)__/g, "<strong>$1</strong>")
    .replace(/\*(?=\S)([^*\n]*?\S)\*/g, "<em>$1</em>")
    .replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?![\w])/g, "$1<em>$2</em>");
  text = text.replace(new RegExp(`${HOLE}L(\\d+)${HOLE}`, "g"), (_m, i: string) => links[Number(i)] ?? "");
  return text.replace(new RegExp(`${HOLE}(\\d+)${HOLE}`, "g"), (_m, i: string) => codes[Number(i)] ?? "");
}

function blocks(text: string): string {
  const out: string[] = [];
  let list: string[] = [];
  let para: string[] = [];
  const endPara = () => {
    if (para.length) out.push(`<p>${para.map(inline).join("<br>")}</p>`);
    para = [];
  };
  const endList = () => {
    if (list.length) out.push(`<ul>${list.map((l) => `<li>${inline(l)}</li>`).join("")}</ul>`);
    list = [];
  };
  for (const line of text.split("\n")) {
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (bullet) {
      endPara();
      list.push(bullet[1]);
    } else if (heading) {
      endPara();
      endList();
      out.push(`<p class="rtj-md-h"><strong>${inline(heading[2])}</strong></p>`);
    } else if (!line.trim()) {
      endPara();
      endList();
    } else {
      endList();
      para.push(line);
    }
  }
  endPara();
  endList();
  return out.join("");
}

export interface RenderOptions {
  /** Wrap each code block as `<div class="rtj-code"><button class="rtj-copy">Copy</button><pre>…`. */
  copy?: boolean;
}

const COPY_BUTTON = '<button type="button" class="rtj-copy" title="Copy this code" aria-label="Copy code">Copy</button>';

/** Markdown to safe HTML. An unterminated code fence (while text streams in) renders as code. */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  const out: string[] = [];
  const fence = /^```([\w+-]*)[^\n]*\n([\s\S]*?)(?:^```[ \t]*$|(?![\s\S]))/gm;
  let last = 0;
  let match: RegExpExecArray | null;
  while ((match = fence.exec(source)) !== null) {
    if (match.index > last) out.push(blocks(source.slice(last, match.index)));
    const lang = match[1] ? ` class="language-${escapeHtml(match[1])}"` : "";
    const code = match[2].replace(/\n$/, "");
    const pre = `<pre><code${lang}>${escapeHtml(code)}</code></pre>`;
    out.push(options.copy ? `<div class="rtj-code">${COPY_BUTTON}${pre}</div>` : pre);
    last = fence.lastIndex;
    if (match[0].length === 0) break;
  }
  if (last < source.length) out.push(blocks(source.slice(last)));
  return out.join("");
}
