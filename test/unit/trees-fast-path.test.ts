// planTrees (src/agent/trees.ts) takes a quick path for a manifest in path order; folder hashes
// must be exactly those of the code it replaced (kept below as it was), or nodes would rebuild, or
// worse share, the wrong trees.
import { expect, test } from "bun:test";
import type { Manifest, ManifestEntry } from "../../src/protocol/deployment";
import { RULES_FILES, planTrees } from "../../src/agent/trees";
import { sortManifest } from "../../src/shared/manifest";

function oldPlanTrees(manifest: Manifest, owner: string, quarantined: ReadonlyMap<string, string>) {
  type F = { path: string; hash: string; files: ManifestEntry[]; dirs: { name: string; hash: string }[] };
  const folders = new Map<string, F>();
  const folder = (path: string): F => {
    let f = folders.get(path);
    if (!f) {
      f = { path, hash: "", files: [], dirs: [] };
      folders.set(path, f);
      if (path !== "") {
        const cut = path.lastIndexOf("/");
        folder(cut === -1 ? "" : path.slice(0, cut)).dirs.push({ name: path.slice(cut + 1), hash: "" });
      }
    }
    return f;
  };
  folder("");
  const rules: ManifestEntry[] = [];
  for (const e of manifest) {
    if (RULES_FILES.has(e.path)) {
      rules.push(e);
      continue;
    }
    const cut = e.path.lastIndexOf("/");
    folder(cut === -1 ? "" : e.path.slice(0, cut)).files.push(e);
  }
  const byName = (a: ManifestEntry, b: ManifestEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const depth = (p: string) => (p === "" ? 0 : p.split("/").length);
  const ordered = [...folders.values()].sort((a, b) => depth(b.path) - depth(a.path));
  for (const f of ordered) {
    let text = `tree v1\0${owner}\n`;
    for (const e of [...f.files].sort(byName)) {
      const name = e.path.slice(e.path.lastIndexOf("/") + 1);
      text += `f\0${name}\0${e.sha256}\0${e.size}\0${quarantined.get(e.sha256) ?? ""}\n`;
    }
    for (const d of f.dirs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      d.hash = folders.get(f.path === "" ? d.name : `${f.path}/${d.name}`)!.hash;
      text += `d\0${d.name}\0${d.hash}\n`;
    }
    f.hash = new Bun.CryptoHasher("sha256").update(text).digest("hex");
  }
  return { root: folders.get("")!.hash, folders: ordered, rules };
}

const digest = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const entries = (paths: string[]) => paths.map((path, i) => ({ path, sha256: digest(path), size: i }));
const view = (p: ReturnType<typeof planTrees>) => ({
  root: p.root,
  folders: p.folders.map((f) => ({ path: f.path, hash: f.hash, files: [...f.files].map((e) => e.path).sort(), dirs: f.dirs })),
  rules: p.rules.map((e) => e.path),
});

test("folder hashes, folders and rules are those of the code it replaced, for sorted and unsorted manifests", () => {
  const cases = [
    ["index.html", "a/b.txt", "a.b", "a-c/x", "a/c/d/e.txt", "a/c/f.txt", "_redirects", "_headers", "netlify.toml", "x/_redirects"],
    ["ünïcode/ファイル.txt", "ünïcode/é", "😀/a", "Z/z", "z/Z", "a b/c d"],
    ["deep/1/2/3/4/5/f", "deep/1/f", "deep/1/2/g", "top"],
    Array.from({ length: 500 }, (_, i) => `d${i % 13}/s${i % 3}/f${i}.txt`),
  ];
  for (const paths of cases) {
    const m = entries(paths);
    const q = new Map([[m[1]!.sha256, `${m[1]!.sha256}-1700000000000`]]);
    for (const input of [m, [...m].reverse(), sortManifest(m)])
      for (const marks of [new Map<string, string>(), q]) expect(view(planTrees(input, "acct", marks))).toEqual(view(oldPlanTrees(input, "acct", marks)));
  }
});
