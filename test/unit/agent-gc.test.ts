import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobStore } from "../../src/agent/blobs";
import { Deployments } from "../../src/agent/deployments";

const dir = mkdtempSync(join(tmpdir(), "sprout-gc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

test("GC keeps production, the one before it and the newest --retain others, and drops blobs nothing links", async () => {
  const blobs = new BlobStore(dir);
  const deployments = new Deployments(dir, blobs, 1, new Uint8Array(8));
  const ids = ["d1", "d2", "d3", "d4", "d5"];
  for (const [i, id] of ids.entries()) {
    const content = `version ${i}`;
    const tmp = blobs.tmpPath();
    writeFileSync(tmp, content);
    blobs.adopt(tmp, sha(content));
    // Every deployment also shares one unchanged file.
    const shared = "shared file";
    if (!blobs.has(sha(shared))) {
      const t2 = blobs.tmpPath();
      writeFileSync(t2, shared);
      blobs.adopt(t2, sha(shared));
    }
    await deployments.stage("site", id, [
      { path: "index.html", sha256: sha(content), size: content.length },
      { path: "shared.txt", sha256: sha(shared), size: shared.length },
    ]);
    await Bun.sleep(15); // distinct mtimes: GC keeps the newest
  }
  deployments.activate("site", "d2");
  deployments.activate("site", "d3");
  const r = deployments.collect();
  // Kept: production d3, previous d2, and the newest other one (d5). Removed: d1, d4.
  expect(deployments.staged("site").sort()).toEqual(["d2", "d3", "d5"]);
  expect(r.deployments).toBe(2);
  expect(blobs.has(sha("version 0"))).toBe(false);
  expect(blobs.has(sha("version 3"))).toBe(false);
  expect(blobs.has(sha("version 4"))).toBe(true);
  expect(blobs.has(sha("shared file"))).toBe(true);
  expect(existsSync(join(dir, "sites", "site", "current"))).toBe(true);
  expect(readdirSync(join(dir, "sites", "site", "deploys", "d3"))).toContain("index.html");
});

test("GC removes the folder trees only removed deployments reached, keeps those a kept one shares, and frees their blobs", async () => {
  const d2 = mkdtempSync(join(tmpdir(), "sprout-gc-trees-"));
  try {
    const blobs = new BlobStore(d2);
    const deployments = new Deployments(d2, blobs, 0, new Uint8Array(8));
    const put = (content: string) => {
      const tmp = blobs.tmpPath();
      writeFileSync(tmp, content);
      blobs.adopt(tmp, sha(content));
      return { sha256: sha(content), size: content.length };
    };
    const shared = { path: "assets/shared.css", ...put("body { color: red }") };
    await deployments.stage("s", "old", [{ path: "index.html", ...put("old page") }, { path: "gone/only-old.txt", ...put("only old") }, shared], { owner: "acct" });
    await Bun.sleep(15);
    await deployments.stage("s", "new", [{ path: "index.html", ...put("new page") }, shared], { owner: "acct" });
    deployments.activate("s", "new");
    const trees = () => readdirSync(join(d2, "sites", "s", "trees")).sort();
    // old: root, gone, assets; new: its own root, and the same assets tree.
    expect(trees().length).toBe(4);
    const r = deployments.collect();
    expect(r.deployments).toBe(1);
    expect(r.trees).toBe(2);
    expect(trees().length).toBe(2);
    expect(blobs.has(sha("only old"))).toBe(false);
    expect(blobs.has(sha("old page"))).toBe(false);
    expect(blobs.has(sha("body { color: red }"))).toBe(true);
    expect(readdirSync(join(d2, "sites", "s", "current", "assets"))).toEqual(["shared.css"]);
  } finally {
    rmSync(d2, { recursive: true, force: true });
  }
});
