import assert from "node:assert/strict";
import { test } from "node:test";
import { copyText } from "../src/clipboard";

/** Just enough of a Document for the textarea fallback. */
function fakeDocument(copyWorks: boolean) {
  const log: string[] = [];
  let selected = "";
  const body = {
    children: [] as unknown[],
    append(el: unknown) {
      this.children.push(el);
    },
  };
  const doc = {
    log,
    body,
    activeElement: { focus: () => log.push("refocus") },
    createElement(tag: string) {
      log.push(`create ${tag}`);
      const el = {
        value: "",
        tabIndex: 0,
        style: {},
        setAttribute: () => undefined,
        focus: () => undefined,
        select() {
          selected = el.value;
        },
        setSelectionRange: () => undefined,
        remove() {
          body.children.splice(body.children.indexOf(el), 1);
          log.push("removed");
        },
      };
      return el;
    },
    execCommand(command: string) {
      log.push(`exec ${command}: ${selected}`);
      return copyWorks;
    },
  };
  return doc;
}

test("the Clipboard API on a secure page", async () => {
  const written: string[] = [];
  const doc = fakeDocument(true);
  const ok = await copyText("result = 6 * 7", {
    clipboard: { writeText: async (t) => void written.push(t) },
    secure: true,
    document: doc as unknown as Document,
  });
  assert.equal(ok, true);
  assert.deepEqual(written, ["result = 6 * 7"]);
  assert.deepEqual(doc.log, []);
});

test("insecure origin or a refused Clipboard API: the hidden textarea and execCommand", async () => {
  for (const clipboard of [null, { writeText: () => Promise.reject(new Error("NotAllowedError")) }]) {
    const doc = fakeDocument(true);
    const ok = await copyText("print(42)", { clipboard, secure: clipboard !== null, document: doc as unknown as Document });
    assert.equal(ok, true);
    assert.deepEqual(doc.log, ["create textarea", "exec copy: print(42)", "removed", "refocus"]);
    assert.equal(doc.body.children.length, 0);
  }
  const refused = fakeDocument(false);
  assert.equal(await copyText("x", { clipboard: null, secure: false, document: refused as unknown as Document }), false);
  assert.equal(refused.body.children.length, 0);
  assert.equal(await copyText("x", { clipboard: null, secure: false }), false); // no document at all (node)
});
