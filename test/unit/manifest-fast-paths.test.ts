// The master and the agent check every manifest (shared/manifest.ts); the quick paths taken for a
// manifest the CLI sends in order must answer exactly what the checks they replaced answered (kept
// below as they were), on every edge case and on random input.
import { describe, expect, test } from "bun:test";
import type { Manifest } from "../../src/protocol/deployment";
import { badRequest } from "../../src/shared/errors";
import { DEFAULT_LIMITS, checkManifest, isSorted, manifestDigest, manifestDigestOfLines, manifestText, parseManifestText, plainSitePath, sortManifest, type ManifestLimits } from "../../src/shared/manifest";
import { chunkManifest } from "../../src/shared/manifest-chunks";
import { sitePathProblem } from "../../src/shared/paths";

const sha = (n: number) => n.toString(16).padStart(64, "0");

/** oldCheckManifest is checkManifest before its quick paths. */
function oldCheckManifest(m: Manifest, limits: ManifestLimits = DEFAULT_LIMITS): { files: number; bytes: number } {
  const problems: string[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  if (m.length > limits.maxFiles) problems.push(`${m.length} files is over the limit of ${limits.maxFiles}`);
  for (const e of m) {
    const why = sitePathProblem(e.path);
    if (why) problems.push(`${JSON.stringify(e.path.slice(0, 200))}: ${why}`);
    if (seen.has(e.path)) problems.push(`${JSON.stringify(e.path)}: listed twice`);
    seen.add(e.path);
    if (e.size > limits.maxFileBytes) problems.push(`${JSON.stringify(e.path)}: ${e.size} bytes is over the per-file limit of ${limits.maxFileBytes}`);
    bytes += e.size;
    if (problems.length >= 20) break;
  }
  const folders = new Set<string>();
  for (const p of seen) {
    for (let cut = p.lastIndexOf("/"); cut > 0 && problems.length < 20; cut = p.lastIndexOf("/", cut - 1)) {
      const dir = p.slice(0, cut);
      if (folders.has(dir)) break;
      folders.add(dir);
      if (seen.has(dir)) problems.push(`${JSON.stringify(dir)} is both a file and a folder`);
    }
  }
  if (bytes > limits.maxTotalBytes) problems.push(`${bytes} bytes in all is over the limit of ${limits.maxTotalBytes}`);
  if (problems.length) throw badRequest("bad_manifest", `The manifest was refused: ${problems.join("; ")}.`);
  return { files: m.length, bytes };
}

const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
};
const same = (m: Manifest, limits?: ManifestLimits) => expect(outcome(() => checkManifest(m, limits))).toEqual(outcome(() => oldCheckManifest(m, limits)));
const entries = (paths: string[], size = 1) => paths.map((path, i) => ({ path, sha256: sha(i), size }));

describe("checkManifest", () => {
  test("answers what it answered before on clashes, duplicates, bad paths, unicode names and limits, sorted or not", () => {
    const cases: string[][] = [
      ["a", "a/b"],
      ["a/b", "a"],
      ["a", "a-b", "a/c"],
      ["a/b/c", "a/b", "a"],
      ["x/y", "x/y/z", "x/y/z/w"],
      ["a", "a", "b", "b", "b"],
      ["b", "a", "a"],
      ["ünïcode/ファイル.txt", "ünïcode", "ünïcode/é"],
      ["😀/a", "😀", "\uffff", "\ud83d"],
      ["../x", "/abs", "a//b", "a\\b", "a\u0000b", ".env", ".well-known/x", ".well-known/.x", "a/./b"],
      [`${"é".repeat(128)}/x`, `${"é".repeat(127)}/x`, `${"a".repeat(256)}`, `${"a".repeat(255)}`, "a".repeat(1025)],
      ["index.html", "blog.html", "blog/a.html", "blog-old/x"],
      Array.from({ length: 30 }, (_, i) => `dup`).concat(["dup/x"]),
      Array.from({ length: 30 }, (_, i) => `f${i}`).flatMap((p) => [p, `${p}/x`]),
      [],
    ];
    for (const paths of cases) {
      same(entries(paths));
      same(sortManifest(entries(paths)));
    }
    same(entries(["a", "b"], 11), { maxFiles: 10, maxFileBytes: 10, maxTotalBytes: 100 });
    same(entries(["a", "b", "c"], 8), { maxFiles: 2, maxFileBytes: 10, maxTotalBytes: 15 });
  });

  test("answers what it answered before on random manifests", () => {
    const alphabet = ["a", "b", "/", "/", ".", "-", "é", "😀", "\\", "\u0001", "A", "_"];
    let seed = 42;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let round = 0; round < 3000; round++) {
      const paths = Array.from({ length: 1 + rnd(8) }, () => Array.from({ length: 1 + rnd(6) }, () => alphabet[rnd(alphabet.length)]).join(""));
      const m = entries(paths);
      same(m);
      same(sortManifest(m));
    }
  });
});

describe("plainSitePath", () => {
  test("accepts only what sitePathProblem accepts, and the ordinary paths of a site", () => {
    for (const p of ["index.html", "a/b/c.js", ".well-known/x", "ünïcode/ファイル.txt", "_redirects", "a..b/c", "a".repeat(255), `${"é".repeat(85)}/x`])
      expect(plainSitePath(p)).toBe(true);
    const alphabet = ["a", "/", ".", "é", "😀", "\ud83d", "\\", "\u0000", "\u001f", "\u007f", " ", "well-known", ".well-known"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let round = 0; round < 20000; round++) {
      const p = Array.from({ length: rnd(7) }, () => alphabet[rnd(alphabet.length)]).join("");
      if (plainSitePath(p)) expect(sitePathProblem(p)).toBeNull();
    }
    for (const p of ["", "/a", "a/", "a//b", "..", "a/../b", "./a", ".env", ".well-knownx/a", "a\\b", "a\u0000", "a\u007fb", "a".repeat(256), "é".repeat(128), "a".repeat(1025)])
      expect(plainSitePath(p)).toBe(false);
  });
});

describe("sortManifest and manifestDigest", () => {
  test("a manifest already in order is answered as it is; any other is sorted, and the digest does not depend on the order", () => {
    const m = entries(["b", "a/x", "a.b", "a", "é", "Z"]);
    const sorted = sortManifest(m);
    expect(sorted).not.toBe(m);
    expect(sorted.map((e) => e.path)).toEqual(["Z", "a", "a.b", "a/x", "b", "é"]);
    expect(isSorted(sorted)).toBe(true);
    expect(isSorted(m)).toBe(false);
    expect(sortManifest(sorted)).toBe(sorted);
    expect(manifestDigest(m)).toBe(manifestDigest(sorted));
    // The digest of the canonical lines, as every earlier version computed it.
    const lines = sorted.map((e) => `${e.path}\0${e.sha256}\0${e.size}\n`).join("");
    expect(manifestDigest(m)).toBe(new Bun.CryptoHasher("sha256").update(lines).digest("hex"));
  });
});

describe("manifestDigestOfLines", () => {
  test("the master's digest from its stored chunks is the digest the agent computes from the manifest", () => {
    const paths = ["index.html", "a.b", "a/b", "ünïcode/ファイル.txt", "😀/x", ".well-known/security.txt", ...Array.from({ length: 2000 }, (_, i) => `d${i % 17}/f${i}.css`)];
    const m = sortManifest(paths.map((path, i) => ({ path, sha256: sha(i * 7919), size: i * 13 })));
    expect(manifestDigestOfLines(chunkManifest(m).map((c) => c.text))).toBe(manifestDigest(m));
    expect(manifestDigestOfLines(chunkManifest([]).map((c) => c.text))).toBe(manifestDigest([]));
  });
});

describe("manifestText", () => {
  test("is the text the digest hashes, in path order, and reads back as the same entries", () => {
    const m = [{ path: "b/ü.txt", sha256: sha(1), size: 0 }, { path: "a.b", sha256: sha(2), size: 123456789 }, { path: "😀", sha256: sha(3), size: 7 }];
    const text = manifestText(m);
    expect(text).toBe(`a.b\x00${sha(2)}\x00123456789\nb/ü.txt\x00${sha(1)}\x000\n😀\x00${sha(3)}\x007\n`);
    expect(new Bun.CryptoHasher("sha256").update(text).digest("hex")).toBe(manifestDigest(m));
    expect(parseManifestText(text)).toEqual(sortManifest(m));
    expect(parseManifestText(manifestText([]))).toEqual([]);
  });
});
