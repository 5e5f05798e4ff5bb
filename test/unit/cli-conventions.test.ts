import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { closest, levenshtein } from "../../src/shared/command";
import { describeProblems } from "../../src/shared/http-errors";
import { normalizeMaster } from "../../src/cli/master-url";
import { request } from "../../src/cli/api";
import { detectGenerator } from "../../src/cli/detect";
import { projectSchemaJson, readProject } from "../../src/cli/project";
import { choosePublishFolder } from "../../src/cli/publish-folder";
import { ProjectFile } from "../../src/protocol/project";
import { UserCreate } from "../../src/protocol/user";
import { DeploymentCreate } from "../../src/protocol/deployment";
import { SiteCreate } from "../../src/protocol/site";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "generators");
const ROOT = join(import.meta.dir, "..", "..");

describe("suggestions", () => {
  test("a swapped pair of letters is one edit", () => {
    expect(levenshtein("prdo", "prod")).toBe(1);
    expect(levenshtein("kitten", "sitting")).toBe(3);
  });
  test("the closest command is suggested only when it is near enough", () => {
    expect(closest("deplyo", ["deploy", "deployments", "sites"])).toBe("deploy");
    expect(closest("stauts", ["status", "sites"])).toBe("status");
    expect(closest("frobnicate", ["deploy", "sites", "status"])).toBeUndefined();
  });
});

describe("master URL", () => {
  test("a URL without a scheme gets http:// for this machine and https:// for any other", () => {
    expect(normalizeMaster("127.0.0.1:7000")).toBe("http://127.0.0.1:7000");
    expect(normalizeMaster("localhost:7000/")).toBe("http://localhost:7000");
    expect(normalizeMaster("sprout.localhost")).toBe("http://sprout.localhost");
    expect(normalizeMaster("sprout.example.com")).toBe("https://sprout.example.com");
    expect(normalizeMaster(" https://sprout.example.com/// ")).toBe("https://sprout.example.com");
    expect(normalizeMaster("HTTP://Sprout.Example.com:8443")).toBe("http://sprout.example.com:8443");
  });
  test("another scheme or no host is named in the error", () => {
    expect(() => normalizeMaster("ftp://sprout.example.com")).toThrow("uses ftp://; the master speaks http:// or https://");
    expect(() => normalizeMaster("http://")).toThrow("is not a URL");
  });
});

describe("validation messages", () => {
  const say = (schema: Parameters<typeof Value.Errors>[0], value: unknown) => describeProblems([...Value.Errors(schema, value)]);
  test("limits are said in words, once per field, without patterns or TypeBox wording", () => {
    expect(say(UserCreate, { email: "a@example.com", password: "short" })).toEqual(["password: at least 8 characters"]);
    expect(say(SiteCreate, { name: "Bad--Name" })).toEqual(["name: site name must be 1-63 lower-case letters, digits or single hyphens, not starting or ending with a hyphen"]);
    expect(say(SiteCreate, { name: "ok", replicas: 40 })).toEqual(["replicas: replicas must be a whole number from 1 to 16"]);
    expect(say(ProjectFile, { replicas: 0 })).toEqual(["replicas: a whole number from 1 to 16"]);
    const missing = say(DeploymentCreate, { site: "blog", manifest: [{ path: "", sha256: "x".repeat(64), size: -1 }] });
    expect(missing).toContain("manifest[0].path: must not be empty");
    expect(missing).toContain("manifest[0].size: a whole number of at least 0");
    for (const m of missing) expect(m).not.toMatch(/Expected|\^|\$|\[a-/);
    expect(say(UserCreate, {})).toEqual(["email: is required"]);
  });
});

describe("project file", () => {
  test("sprout.schema.json is generated from the ProjectFile schema (run `bun scripts/schema.ts`)", () => {
    expect(readFileSync(join(ROOT, "sprout.schema.json"), "utf8")).toBe(projectSchemaJson());
  });
  test("a sprout.json with mistakes names each one", () => {
    const dir = mkdtempSync(join(tmpdir(), "sprout-project-"));
    try {
      writeFileSync(join(dir, "sprout.json"), JSON.stringify({ site: "Blog", replicas: 99, spa: "yes", publsh: "dist" }));
      let msg = "";
      try {
        readProject(join(dir, "sprout.json"));
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toContain("sprout.json: ");
      expect(msg).toContain("site: site name must be");
      expect(msg).toContain("replicas: a whole number from 1 to 16");
      expect(msg).toContain("spa: must be true or false");
      expect(msg).toContain("publsh: is not accepted");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("generator detection", () => {
  const cases: [string, string, string][] = [
    ["vite", "Vite", "dist"],
    ["next-export", "Next.js", "out"],
    ["astro", "Astro", "dist"],
    ["hugo", "Hugo", "public"],
    ["jekyll", "Jekyll", "_site"],
    ["vitepress", "VitePress", "docs/.vitepress/dist"],
    ["docusaurus", "Docusaurus", "build"],
    ["eleventy", "Eleventy", "_site"],
  ];
  for (const [fixture, generator, publish] of cases)
    test(`a ${generator} project publishes ${publish}`, () => {
      const d = detectGenerator(join(FIXTURES, fixture));
      expect(d).toMatchObject({ generator, publish });
      expect(d?.note).toBeUndefined();
    });
  test("a Next.js project without a static export is recognised and told what to change", () => {
    expect(detectGenerator(join(FIXTURES, "next-server"))?.note).toContain("output: 'export'");
  });
  test("a package.json of tooling only is no generator", () => {
    expect(detectGenerator(join(FIXTURES, "plain-node"))).toBeNull();
  });
});

describe("publish folder", () => {
  const copy = (fixture: string) => {
    const dir = mkdtempSync(join(tmpdir(), "sprout-publish-"));
    cpSync(join(FIXTURES, fixture), dir, { recursive: true });
    return dir;
  };
  test("a folder holding package.json is never published by default", () => {
    const dir = copy("plain-node");
    try {
      expect(() => choosePublishFolder(undefined, null, dir)).toThrow("holds package.json");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a detected build folder is published once it exists, and named", () => {
    const dir = copy("vite");
    try {
      expect(() => choosePublishFolder(undefined, null, dir)).toThrow("does not exist yet");
      mkdirSync(join(dir, "dist"));
      expect(choosePublishFolder(undefined, null, dir)).toMatchObject({ dir: join(dir, "dist"), shown: "dist" });
      expect(choosePublishFolder("public", null, dir)).toMatchObject({ dir: join(dir, "public"), why: "given" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a server that cannot be reached is named in plain words", () => {
  const reason = async (url: string, init: RequestInit = {}) => {
    try {
      await request(url, init, "the node at " + url);
    } catch (e) {
      return { message: (e as Error).message, hint: (e as { hint?: string }).hint };
    }
    throw new Error("the request was answered");
  };
  test("a port where nothing listens", async () => {
    const r = await reason("http://127.0.0.1:1/");
    expect(r.message).toBe("Cannot reach the node at http://127.0.0.1:1/: connection refused (nothing listens at that address).");
    expect(r.hint).toContain("run the command again in a moment");
  });
  test("a host name that does not resolve", async () => {
    expect((await reason("http://sprout-test.invalid/")).message).toBe("Cannot reach the node at http://sprout-test.invalid/: its host name does not resolve.");
  });
  test("a server that does not answer in time", async () => {
    const server = Bun.serve({ port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      expect((await reason(`http://127.0.0.1:${server.port}/`, { signal: AbortSignal.timeout(200) })).message).toEndWith(": no answer in time.");
    } finally {
      server.stop(true);
    }
  });
});
