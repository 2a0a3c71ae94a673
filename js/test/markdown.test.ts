import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeHtml, renderMarkdown } from "../src/markdown";

test("raw HTML is escaped, never rendered", () => {
  const html = renderMarkdown('<img src=x onerror="alert(1)"> <script>alert(2)</script>');
  assert.ok(!html.includes("<img"));
  assert.ok(!html.includes("<script"));
  assert.ok(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
});

test("bold, italic, inline code", () => {
  assert.equal(renderMarkdown("**bold** and *it* and `a<b`"), "<p><strong>bold</strong> and <em>it</em> and <code>a&lt;b</code></p>");
  assert.equal(renderMarkdown("snake_case_name stays"), "<p>snake_case_name stays</p>");
  assert.equal(renderMarkdown("`**not bold**`"), "<p><code>**not bold**</code></p>");
});

test("links: http(s) only, attributes cannot be broken", () => {
  assert.equal(
    renderMarkdown("[docs](https://example.com/a?b=1&c=2)"),
    '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">docs</a></p>',
  );
  assert.ok(!renderMarkdown("[x](javascript:alert(1))").includes("<a"));
  assert.ok(!renderMarkdown('[x](https://a.b/"onmouseover="alert(1))').includes('"onmouseover'));
});

test("fenced code blocks, also unterminated while streaming", () => {
  assert.equal(renderMarkdown("Here:\n```python\nprint(1 < 2)\n```\nDone"), '<p>Here:</p><pre><code class="language-python">print(1 &lt; 2)</code></pre><p>Done</p>');
  assert.equal(renderMarkdown("```\nx = *1*\n"), "<pre><code>x = *1*</code></pre>");
});

test("lists, headings, paragraphs", () => {
  assert.equal(renderMarkdown("# Title\n- a\n- **b**\n\npara\nline"), '<p class="rtj-md-h"><strong>Title</strong></p><ul><li>a</li><li><strong>b</strong></li></ul><p>para<br>line</p>');
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});

test("code blocks get a Copy button with { copy: true }, the code still escaped", () => {
  const html = renderMarkdown("Here is code:\n\n```python\nresult = 6 * 7\nprint(result < 50)\n```\nDone", { copy: true });
  assert.equal(
    html,
    '<p>Here is code:</p><div class="rtj-code"><button type="button" class="rtj-copy" title="Copy this code" ' +
      'aria-label="Copy code">Copy</button><pre><code class="language-python">result = 6 * 7\nprint(result &lt; 50)' +
      "</code></pre></div><p>Done</p>",
  );
  // one button per block, also for a block still streaming in; none without code
  const two = renderMarkdown("```\na\n```\ntext\n```js\nb <script>", { copy: true });
  assert.equal(two.match(/class="rtj-copy"/g)?.length, 2);
  assert.ok(!two.includes("<script"));
  assert.ok(!renderMarkdown("no `code` block here", { copy: true }).includes("rtj-copy"));
  // a fence cannot smuggle markup into the button or the class attribute
  const sly = renderMarkdown('```py"><img src=x>\nx\n```', { copy: true });
  assert.ok(!sly.includes("<img"));
});
