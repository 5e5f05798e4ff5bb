// The CLI's walk and hash cache (src/cli/walk.ts): what a deploy sends must not depend on how fast
// it was found. The walk is compared with the one it replaced (kept below as it was), and the cache
// must never answer a digest for a file that changed, whatever state a crash left it in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { hashCacheName, hashFiles, walkSite } from "../../src/cli/walk";
import { DeployIgnore, countFiles } from "../../src/cli/deploy-ignore";
import { isSorted, sortManifest } from "../../src/shared/manifest";
import { sitePathProblem } from "../../src/shared/paths";

let work: string;
let cache: string;
const before = process.env.SPROUT_CACHE_DIR;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "sprout-walk-"));
  cache = join(work, "cache");
  process.env.SPROUT_CACHE_DIR = cache;
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (before === undefined) delete process.env.SPROUT_CACHE_DIR;
  else process.env.SPROUT_CACHE_DIR = before;
});

let n = 0;
function tree(files: Record<string, string>): string {
  const dir = join(work, `site${++n}`);
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), body);
  }
  return dir;
}

/** oldWalk is walkSite as it was before it read entry types (errors left out): the reference. */
function oldWalk(root: string, extra: string[] = []) {
  const base = resolve(root);
  const rules = new DeployIgnore(base, extra);
  const out: { path: string; abs: string; size: number; mtimeMs: number }[] = [];
  let ignored = 0;
  const ignoredExamples: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const st = lstatSync(abs);
      const rel = relative(base, abs).split(sep).join("/");
      if (rules.leavesOut(rel, name, st.isDirectory())) {
        ignored += st.isDirectory() ? countFiles(abs) : 1;
        if (ignoredExamples.length < 5) ignoredExamples.push(st.isDirectory() ? `${rel}/` : rel);
        continue;
      }
      if (st.isSymbolicLink()) throw new Error("symlink");
      if (st.isDirectory()) visit(abs);
      else if (st.isFile()) {
        if (sitePathProblem(rel)) throw new Error("bad_path");
        out.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs });
      } else throw new Error("special_file");
    }
  };
  visit(base);
  return { files: out, ignored, ignoredExamples };
}

describe("walkSite", () => {
  test("finds the same files, sizes and times as the walk it replaced, already in the manifest's order", () => {
    const dir = tree({
      "index.html": "home",
      "blog.html": "b",
      "blog/a.html": "a",
      "blog-old/x.html": "x",
      "a.b": "1",
      "a/b": "2",
      "a b/c": "3",
      "ünïcode/ファイル.txt": "u",
      "Z/upper.txt": "z",
      ".well-known/security.txt": "s",
      ".env": "secret",
      ".git/config": "g",
      "node_modules/x/index.js": "n",
      "drafts/one.md": "d",
      "drafts/two.md": "d",
      ".sproutignore": "drafts/\n*.map\n",
      "app.js.map": "m",
    });
    const got = walkSite(dir);
    const ref = oldWalk(dir);
    const key = (f: { path: string; abs: string; size: number; mtimeMs: number }) => `${f.path}|${f.abs}|${f.size}|${f.mtimeMs}`;
    expect(got.files.map(key).sort()).toEqual(ref.files.map(key).sort());
    expect(got.ignored).toBe(ref.ignored);
    expect([...got.ignoredExamples].sort()).toEqual([...ref.ignoredExamples].sort());
    // "a.b" before "a/b", "blog-old/" and "blog.html" before "blog/": the order digests use.
    const paths = got.files.map((f) => f.path);
    const asManifest = got.files.map((f) => ({ path: f.path, sha256: "", size: f.size }));
    expect(isSorted(asManifest)).toBe(true);
    expect(paths).toEqual(sortManifest(asManifest).map((f) => f.path));
    expect(paths.indexOf("a.b")).toBeLessThan(paths.indexOf("a/b"));
  });

  test("still refuses a symbolic link that is not left out, and leaves out one that is", () => {
    const dir = tree({ "index.html": "x" });
    symlinkSync("/etc/passwd", join(dir, "passwd"));
    expect(() => walkSite(dir)).toThrow(/passwd is a symbolic link/);
    expect(walkSite(dir, ["passwd"]).files.map((f) => f.path)).toEqual(["index.html"]);
    mkdirSync(join(dir, "real"));
    symlinkSync(join(dir, "real"), join(dir, "linked-folder"));
    expect(() => walkSite(dir, ["passwd"])).toThrow(/linked-folder is a symbolic link/);
  });
});

const digest = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const cacheOf = (dir: string) => join(cache, "hashes", hashCacheName(dir));
async function manifestOf(dir: string) {
  const r = await hashFiles(walkSite(dir).files, undefined, dir);
  return { ...r, byPath: Object.fromEntries(r.manifest.map((e) => [e.path, e.sha256])) };
}

describe("hashFiles and its cache", () => {
  test("a redeploy with one changed file hashes that file and appends one line to the folder's cache", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 7}/f${i}.txt`] = `file ${i}`;
    const dir = tree(files);
    expect((await manifestOf(dir)).hashed).toBe(300);
    const first = readFileSync(cacheOf(dir), "utf8");
    expect(first.split("\n").length).toBe(302); // head, 300 lines, and the empty string after the last newline
    writeFileSync(join(dir, "d3/f3.txt"), "changed!");
    const again = await manifestOf(dir);
    expect(again.hashed).toBe(1);
    expect(again.byPath["d3/f3.txt"]).toBe(digest("changed!"));
    const text = readFileSync(cacheOf(dir), "utf8");
    expect(text.startsWith(first)).toBe(true);
    expect(text.slice(first.length)).toMatch(/^[0-9a-f]{64}\t8\t[0-9.]+\td3\/f3\.txt\n$/);
    // Nothing changed: nothing hashed, nothing written.
    const mtime = statSync(cacheOf(dir)).mtimeMs;
    await Bun.sleep(15);
    expect((await manifestOf(dir)).hashed).toBe(0);
    expect(statSync(cacheOf(dir)).mtimeMs).toBe(mtime);
  });

  test("a file changed with the same size is hashed again when its mtime moved, and a removed file leaves the cache", async () => {
    const dir = tree({ "a.txt": "aaaa", "b/c.txt": "cccc" });
    await manifestOf(dir);
    writeFileSync(join(dir, "a.txt"), "AAAA");
    const t = new Date(Date.now() + 5000);
    utimesSync(join(dir, "a.txt"), t, t);
    expect((await manifestOf(dir)).byPath["a.txt"]).toBe(digest("AAAA"));
    rmSync(join(dir, "b"), { recursive: true });
    const r = await manifestOf(dir);
    expect(r.manifest.map((e) => e.path)).toEqual(["a.txt"]);
    expect(readFileSync(cacheOf(dir), "utf8")).not.toContain("c.txt");
  });

  test("a cache line cut short by a crash, or glued to the next line, never gives a digest", async () => {
    const dir = tree({ "p/ab": "12345", "p/abc": "67890" });
    await manifestOf(dir);
    const st = statSync(join(dir, "p/ab"));
    const wrong = digest("not the file");
    // The line of "p/abc" cut after "p/ab": same size and mtime as the file "p/ab".
    appendFileSync(cacheOf(dir), `${wrong}\t${st.size}\t${st.mtimeMs}\tp/ab`);
    expect((await manifestOf(dir)).byPath["p/ab"]).toBe(digest("12345"));
    // ... and the next deploy's line appended to it.
    appendFileSync(cacheOf(dir), `${wrong}\t${st.size}\t${st.mtimeMs}\tp/ab\n`);
    expect((await manifestOf(dir)).byPath["p/ab"]).toBe(digest("12345"));
    expect((await manifestOf(dir)).byPath["p/abc"]).toBe(digest("67890"));
  });

  test("the cache of another folder, or of an older version, is not used, and the old single cache file is removed", async () => {
    const a = tree({ "same.txt": "first" });
    const b = tree({ "same.txt": "other" });
    const stA = statSync(join(a, "same.txt"));
    utimesSync(join(b, "same.txt"), stA.atime, stA.mtime);
    await manifestOf(a);
    // b's cache file holding a's content (a hash collision of the names, or a copied folder).
    mkdirSync(join(cache, "hashes"), { recursive: true });
    writeFileSync(cacheOf(b), readFileSync(cacheOf(a), "utf8"));
    expect((await manifestOf(b)).byPath["same.txt"]).toBe(digest("other"));
    writeFileSync(join(cache, "hashes.json"), JSON.stringify({ [join(b, "same.txt")]: { size: 5, mtimeMs: stA.mtimeMs, sha256: digest("x") } }));
    writeFileSync(cacheOf(b), "sprout hash cache v1\n");
    expect((await manifestOf(b)).byPath["same.txt"]).toBe(digest("other"));
    expect(() => statSync(join(cache, "hashes.json"))).toThrow();
  });
});
