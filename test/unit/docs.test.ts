import { expect, test } from "bun:test";
import { join } from "node:path";

test("docs/configuration.md matches the command definitions (run `bun run docs` after changing a flag)", () => {
  const r = Bun.spawnSync(["bun", join(import.meta.dir, "..", "..", "scripts", "docs.ts"), "--check"], { stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
});
