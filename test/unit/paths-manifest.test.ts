import { describe, expect, test } from "bun:test";
import { sitePathProblem } from "../../src/shared/paths";
import { checkManifest, manifestDigest } from "../../src/shared/manifest";
import { parseListen } from "../../src/shared/listen";

const sha = "a".repeat(64);

describe("sitePathProblem", () => {
  test("accepts ordinary nested paths", () => {
    for (const p of ["index.html", "a/b/c.js", ".well-known/x", "ünïcode/ファイル.txt", "_redirects", "a..b/c"]) expect(sitePathProblem(p)).toBeNull();
  });
  test("refuses absolute, .., backslash, NUL, control characters and empty segments, saying why", () => {
    expect(sitePathProblem("/etc/passwd")).toBe("it is absolute");
    expect(sitePathProblem("a/../../b")).toBe("it contains '..'");
    expect(sitePathProblem("..")).toBe("it contains '..'");
    expect(sitePathProblem("a\\b")).toBe("it contains a backslash");
    expect(sitePathProblem("a\u0000b")).toBe("it contains a NUL or control character");
    expect(sitePathProblem("a\nb")).toBe("it contains a NUL or control character");
    expect(sitePathProblem("a//b")).toBe("it contains an empty segment");
    expect(sitePathProblem("a/./b")).toBe("it contains '.' as a segment");
    expect(sitePathProblem("")).toBe("it is empty");
    for (const p of [".env", "a/.git/config", ".well-known/.x"]) expect(sitePathProblem(p)).toContain("dotfiles and dot-folders are never published");
  });
});

describe("manifest", () => {
  test("the digest does not depend on the order of entries but on every field", () => {
    const a = [{ path: "b", sha256: sha, size: 1 }, { path: "a", sha256: sha, size: 2 }];
    expect(manifestDigest(a)).toBe(manifestDigest([...a].reverse()));
    expect(manifestDigest(a)).not.toBe(manifestDigest([{ ...a[0]!, size: 3 }, a[1]!]));
    expect(manifestDigest(a)).not.toBe(manifestDigest([{ ...a[0]!, path: "c" }, a[1]!]));
  });
  test("checkManifest reports every problem at once", () => {
    expect(() => checkManifest([{ path: "../x", sha256: sha, size: 1 }, { path: "a", sha256: sha, size: 1 }, { path: "a", sha256: sha, size: 1 }])).toThrow(/'\.\.'.*listed twice/);
    expect(() => checkManifest([{ path: "a", sha256: sha, size: 1 }, { path: "a/b", sha256: sha, size: 1 }])).toThrow(/both a file and a folder/);
    expect(() => checkManifest([{ path: "a", sha256: sha, size: 11 }], { maxFiles: 10, maxFileBytes: 10, maxTotalBytes: 100 })).toThrow(/per-file limit/);
    expect(() => checkManifest([{ path: "a", sha256: sha, size: 8 }, { path: "b", sha256: sha, size: 8 }], { maxFiles: 10, maxFileBytes: 10, maxTotalBytes: 15 })).toThrow(/16 bytes in all/);
    expect(checkManifest([{ path: "a", sha256: sha, size: 8 }, { path: "b/c", sha256: sha, size: 2 }])).toEqual({ files: 2, bytes: 10 });
  });
});

describe("parseListen", () => {
  test("reads HOST:PORT, :PORT and PORT, refuses nonsense", () => {
    expect(parseListen("0.0.0.0:80")).toEqual({ hostname: "0.0.0.0", port: 80 });
    expect(parseListen("8080")).toEqual({ hostname: "127.0.0.1", port: 8080 });
    expect(parseListen("[::1]:0")).toEqual({ hostname: "::1", port: 0 });
    expect(() => parseListen("localhost:99999")).toThrow(/HOST:PORT/);
    expect(() => parseListen("nope")).toThrow(/HOST:PORT/);
  });
});
