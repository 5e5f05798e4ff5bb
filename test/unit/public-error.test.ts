import { afterAll, describe, expect, test } from "bun:test";
import { linkSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publicMessage } from "../../src/agent/public-error";

// A staging that loses a blob (collected or discarded meanwhile) fails in link(); its message went
// to the tenant's deploy log as Node wrote it, with both absolute paths of the node's data folder.
describe("publicMessage", () => {
  const dir = mkdtempSync(join(tmpdir(), "sprout-public-error-"));
  const caught = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error("expected a throw");
  };

  test("a failed link names neither path", () => {
    const e = caught(() => linkSync(join(dir, "blobs", "ab", "x"), join(dir, "sites", "s", "index.html")));
    expect((e as Error).message).toContain(dir); // what used to reach the deploy log
    const msg = publicMessage(e);
    expect(msg).not.toContain(dir);
    expect(msg).not.toContain("/");
    expect(msg).toContain("ENOENT");
  });

  test("a failed open names no path", () => {
    const msg = publicMessage(caught(() => openSync(join(dir, "nope", "tmp-1"), "r")));
    expect(msg).not.toContain(dir);
    expect(msg).toContain("ENOENT");
  });

  test("other errors keep their message", () => {
    expect(publicMessage(new Error("unexpected end of data"))).toBe("unexpected end of data");
    expect(publicMessage("x")).toBe("x");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
