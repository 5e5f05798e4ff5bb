// Deployments share folder trees (src/agent/trees.ts): a redeploy builds only the folders that
// changed and the folders above them. These tests check what a user sees: every file served exactly,
// previews and rollbacks unaffected, and the node's work reported in the deploy log.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, api, site, useCluster } from "../helpers/cluster";
import { hashCacheName } from "../../src/cli/walk";

const cl = useCluster();
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const deploy = async (dir: string, name: string, prod = true) => {
  const r = await c.sprout(["deploy", dir, "--site", name, ...(prod ? ["--prod"] : []), "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}):\n${r.stderr}\n${r.stdout}\n${c.logs()}`);
  return JSON.parse(r.stdout);
};

const text = async (host: string, path: string) => {
  const r = await c.get(host, path);
  return { status: r.status, body: await r.text() };
};

/** staged answers the numbers of the node's "Staged ..." log line of a deployment. */
async function staged(id: string) {
  const d = await api(c.master, "GET", `/api/deployment/${id}`, undefined, c.admin.token);
  const line = d.body.events.map((e: any) => e.message).find((m: string) => m.startsWith("Staged "));
  const m = /: (\d+) linked .*, (\d+) folders? reused/.exec(line ?? "");
  if (!m) throw new Error(`no staging line in ${JSON.stringify(d.body.events)}`);
  return { linked: Number(m[1]), reused: Number(m[2]) };
}

describe("redeploys share unchanged folders", () => {
  test("a redeploy that changes one file links only that file's folder and reuses every other folder", async () => {
    const files: Record<string, string> = { "index.html": "<h1>home</h1>" };
    for (let d = 0; d < 30; d++) for (let f = 0; f < 10; f++) files[`f${d}/file${f}.txt`] = `folder ${d} file ${f}\n`;
    const dir = site(files);
    const first = await deploy(dir, "trees");
    expect(await staged(first.deployment_id)).toEqual({ linked: 301, reused: 0 });
    writeFileSync(join(dir, "f7", "file3.txt"), "changed\n");
    const second = await deploy(dir, "trees");
    expect(second.files_uploaded).toBe(1);
    // The changed folder (10 files) and the root (index.html) are built; 29 folders are reused.
    expect(await staged(second.deployment_id)).toEqual({ linked: 11, reused: 29 });
    const host = `trees.${c.domain}`;
    for (const [path, body] of Object.entries({ ...files, "f7/file3.txt": "changed\n" })) {
      if (path === "index.html") continue;
      expect(await text(host, `/${path}`)).toEqual({ status: 200, body });
    }
    expect(await text(`${first.deployment_id}--trees.${c.domain}`, "/f7/file3.txt")).toEqual({ status: 200, body: "folder 7 file 3\n" });
    expect(await text(`${first.deployment_id}--trees.${c.domain}`, "/f8/file3.txt")).toEqual({ status: 200, body: "folder 8 file 3\n" });
    // The same files again: every folder is reused, nothing is linked.
    const third = await deploy(dir, "trees", false);
    expect(await staged(third.deployment_id)).toEqual({ linked: 0, reused: 31 });
  });

  test("folders added, removed and moved: production serves exactly the new tree, the earlier deployment its own, and rollback brings it back", async () => {
    const dir = site({ "index.html": "v1", "a/one.txt": "one", "a/b/two.txt": "two", "c/three.txt": "three", "c/deeper/four.txt": "four" });
    const v1 = await deploy(dir, "moves");
    rmSync(join(dir, "a", "b"), { recursive: true });
    mkdirSync(join(dir, "d"));
    renameSync(join(dir, "c"), join(dir, "d", "c"));
    mkdirSync(join(dir, "e"));
    writeFileSync(join(dir, "e", "five.txt"), "five");
    writeFileSync(join(dir, "index.html"), "v2");
    const v2 = await deploy(dir, "moves");
    const prod = `moves.${c.domain}`;
    const old = `${v1.deployment_id}--moves.${c.domain}`;
    expect(await text(prod, "/")).toEqual({ status: 200, body: "v2" });
    expect(await text(prod, "/a/one.txt")).toEqual({ status: 200, body: "one" });
    expect((await text(prod, "/a/b/two.txt")).status).toBe(404);
    expect((await text(prod, "/c/three.txt")).status).toBe(404);
    expect(await text(prod, "/d/c/three.txt")).toEqual({ status: 200, body: "three" });
    expect(await text(prod, "/d/c/deeper/four.txt")).toEqual({ status: 200, body: "four" });
    expect(await text(prod, "/e/five.txt")).toEqual({ status: 200, body: "five" });
    // The moved folders (c and c/deeper) are the same trees under a new parent: reused, not linked again.
    expect((await staged(v2.deployment_id)).reused).toBe(2);
    expect(await text(old, "/a/b/two.txt")).toEqual({ status: 200, body: "two" });
    expect(await text(old, "/c/three.txt")).toEqual({ status: 200, body: "three" });
    expect((await text(old, "/d/c/three.txt")).status).toBe(404);
    const r = await c.sprout(["rollback", "--site", "moves"]);
    expect(r.code).toBe(0);
    expect(await text(prod, "/")).toEqual({ status: 200, body: "v1" });
    expect(await text(prod, "/c/deeper/four.txt")).toEqual({ status: 200, body: "four" });
    expect((await text(prod, "/e/five.txt")).status).toBe(404);
  });

  test("two accounts deploying the same files never share a folder tree", async () => {
    const files = { "index.html": "same", "x/y.txt": "same file" };
    const a = await deploy(site(files), "acct-a");
    const other = await c.user("trees-other@example.com");
    const r = await c.sprout(["deploy", site(files), "--site", "acct-b", "--prod", "--json"], { SPROUT_TOKEN: other });
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout);
    // The other account uploads the bytes itself (blob ownership) and gets trees of its own.
    expect(b.files_uploaded).toBe(2);
    const d = await api(c.master, "GET", `/api/deployment/${b.deployment_id}`, undefined, other);
    expect(d.body.events.map((e: any) => e.message).join("\n")).toMatch(/: 2 linked .*, 0 folders reused/);
    expect(await text(`acct-b.${c.domain}`, "/x/y.txt")).toEqual({ status: 200, body: "same file" });
    expect(a.status).toBe("ready");
  });

  test("the CLI's hash cache forgets files that are gone and is not rewritten by a redeploy that hashed nothing", async () => {
    const cacheDir = join(c.home, "cache-prune");
    const dir = site({ "index.html": "home", "old/page.html": "old page", "keep.txt": "keep" });
    const run = async () => {
      const r = await c.sprout(["deploy", dir, "--site", "cache-prune", "--prod", "--json"], { SPROUT_CACHE_DIR: cacheDir });
      expect(r.code).toBe(0);
    };
    await run();
    const cacheFile = join(cacheDir, "hashes", hashCacheName(dir));
    expect(readFileSync(cacheFile, "utf8")).toContain("\told/page.html\n");
    rmSync(join(dir, "old"), { recursive: true });
    await run();
    expect(readFileSync(cacheFile, "utf8")).not.toContain("page.html");
    const before = statSync(cacheFile).mtimeMs;
    await Bun.sleep(20);
    await run();
    expect(statSync(cacheFile).mtimeMs).toBe(before);
  });
});
