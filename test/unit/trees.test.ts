import { expect, test } from "bun:test";
import { planTrees } from "../../src/agent/trees";

const e = (path: string, content: string) => ({ path, sha256: new Bun.CryptoHasher("sha256").update(content).digest("hex"), size: content.length });
const hashOf = (plan: ReturnType<typeof planTrees>, path: string) => plan.folders.find((f) => f.path === path)!.hash;

test("a folder's tree hash follows its content and its subfolders, not where it sits, and changes with a file below it", () => {
  const a = planTrees([e("index.html", "1"), e("x/y/z.txt", "z"), e("x/a.txt", "a"), e("copy/a.txt", "a")], "acct", new Map());
  const b = planTrees([e("index.html", "2"), e("x/y/z.txt", "z"), e("x/a.txt", "a"), e("copy/a.txt", "a")], "acct", new Map());
  expect(hashOf(a, "x")).toBe(hashOf(b, "x"));
  expect(hashOf(a, "x/y")).toBe(hashOf(b, "x/y"));
  expect(a.root).not.toBe(b.root);
  const c = planTrees([e("index.html", "1"), e("x/y/z.txt", "changed"), e("x/a.txt", "a"), e("copy/a.txt", "a")], "acct", new Map());
  expect(hashOf(c, "x/y")).not.toBe(hashOf(a, "x/y"));
  expect(hashOf(c, "x")).not.toBe(hashOf(a, "x"));
  expect(hashOf(c, "copy")).toBe(hashOf(a, "copy"));
  // Deepest first, so a folder is built after its subfolders; rules files stay out of the tree.
  const order = planTrees([e("_redirects", "/a /b"), e("x/y/z.txt", "z")], "acct", new Map());
  expect(order.folders.map((f) => f.path)).toEqual(["x/y", "x", ""]);
  expect(order.rules.map((r) => r.path)).toEqual(["_redirects"]);
});

test("tree hashes differ between accounts and once a blob they hold was quarantined", () => {
  const m = [e("index.html", "same")];
  expect(planTrees(m, "a", new Map()).root).not.toBe(planTrees(m, "b", new Map()).root);
  const q = new Map([[m[0]!.sha256, `${m[0]!.sha256}-1700000000000`]]);
  expect(planTrees(m, "a", q).root).not.toBe(planTrees(m, "a", new Map()).root);
});
