// What a server answers reaches the user's terminal only as text to show: control characters
// (escape sequences among them) are replaced, and `sprout open` hands the OS opener web pages only.
import { expect, test } from "bun:test";
import { parseResponse } from "../../src/cli/api";
import { webUrl } from "../../src/cli/commands/open";
import { SproutError } from "../../src/shared/errors";

const ESC = "\x1b";
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

test("escape sequences and other controls in an answer's text are shown, not passed to the terminal", async () => {
  const data = await parseResponse<any>(
    json(200, [{ name: "blog", message: `fix${ESC}]52;c;Y3VybCBldmlsIHwgc2g=${ESC}\\ ok\rspoofed\u009b2J`, notes: "two\nlines\tand a tab", nested: { [`k${ESC}[8m`]: [`${ESC}]0;title\x07`] } }]),
  );
  const text = JSON.stringify(data);
  expect(text).not.toMatch(/\\u001b|\\r|\\u0007|\\u009b/);
  expect(data[0].message).toBe("fix\ufffd]52;c;Y3VybCBldmlsIHwgc2g=\ufffd\\ ok\ufffdspoofed\ufffd2J");
  expect(data[0].notes).toBe("two\nlines\tand a tab");
  expect(data[0].nested).toEqual({ "k\ufffd[8m": ["\ufffd]0;title\ufffd"] });
  expect(data[0].name).toBe("blog");
});

test("an error's message and hint, and a body that is not JSON, are made harmless too", async () => {
  const e1 = await parseResponse(json(400, { error: { code: "bad", message: `no${ESC}[2Jpe`, hint: `try ${ESC}]8;;http://x${ESC}\\this` } })).then(() => null, (e: SproutError) => e);
  expect(e1).toBeInstanceOf(SproutError);
  expect(e1!.message).toBe("no\ufffd[2Jpe");
  expect(e1!.hint).toBe("try \ufffd]8;;http://x\ufffd\\this");
  const e2 = await parseResponse(new Response(`<h1>${ESC}[31mdown</h1>`, { status: 502 })).then(() => null, (e: SproutError) => e);
  expect(e2!.message).toBe("HTTP 502: <h1>\ufffd[31mdown</h1>");
});

test("sprout open hands the opener http and https URLs only", () => {
  expect(webUrl("https://blog.example.com/")).toBe("https://blog.example.com/");
  expect(webUrl("http://0a1b--blog.localhost:8080")).toBe("http://0a1b--blog.localhost:8080/");
  for (const bad of ["file:///etc/passwd", "javascript:alert(1)", "smb://attacker.example/share", "--help", "-a Calculator", "/usr/bin/xterm", "ssh://x", "x-scheme-handler:a", ""])
    expect(webUrl(bad)).toBeNull();
});
