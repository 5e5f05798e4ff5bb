// Pretty URLs and shadowing as Netlify serves them, on both rules engines (the Lua engine and
// `--rules-engine nginx`), for a site without rules and one with rules, through real nginx:
// - A page beside a folder of the same name (`blog.html` and `blog/first.html`: what Next.js's static
//   export, SvelteKit's adapter-static and Astro's "file" format emit) is served at `/blog`; nginx
//   alone would send `/blog` to `/blog/` and `/blog/` back to `/blog`, for ever.
// - A rule that is not forced applies to every path that matches nothing: a folder without
//   index.html is no page, so a single-page app's `/* /index.html 200` answers `/images` too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup, cluster, site, type Cluster } from "../helpers/cluster";

const engines: Record<string, Cluster> = {};
beforeAll(async () => {
  engines.lua = await cluster({ agentArgs: ["--rules-engine", "lua"] });
  engines.nginx = await cluster({ agentArgs: ["--rules-engine", "nginx"] });
});
afterAll(cleanup);

/** EXPORT: a static export's pages, the list page beside the folder of its posts. */
const EXPORT: Record<string, string> = {
  "index.html": "HOME",
  "blog.html": "BLOG LIST",
  "blog/first.html": "FIRST POST",
  "docs/index.html": "DOCS",
  "café.html": "CAFE",
  "café/menu.html": "MENU",
  "404.html": "NOT FOUND",
};
/** APP: a single-page app whose public folder holds images (no index.html) under a client route's name. */
const APP: Record<string, string> = {
  "index.html": "APP SHELL",
  "images/logo.png": "PNG",
  "docs/index.html": "DOCS",
  "about.html": "ABOUT",
  _redirects: "/* /index.html 200\n",
};

const deploy = async (c: Cluster, name: string, files: Record<string, string>) => {
  const r = await c.sprout(["deploy", site(files), "--site", name, "--prod", "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
};
const get = (c: Cluster, name: string, path: string) => c.get(`${name}.${c.domain}`, path, undefined, { redirect: "manual" });
const answer = async (c: Cluster, name: string, path: string) => {
  const r = await get(c, name, path);
  return [path, r.status, r.headers.get("location"), r.status === 200 ? await r.text() : null];
};

for (const engine of ["lua", "nginx"]) {
  describe(`${engine} rules engine`, () => {
    test("setup: a static export without rules and with rules, and a single-page app", async () => {
      const c = engines[engine]!;
      await deploy(c, "export", EXPORT);
      await deploy(c, "exportruled", { ...EXPORT, _headers: "/blog\n  X-Page: blog list\n" });
      await deploy(c, "spa", APP);
    });

    for (const name of ["export", "exportruled"])
      test(`${name}: /blog serves blog.html beside the folder blog/, /blog/ redirects to it, and folders with index.html still get their slash`, async () => {
        const c = engines[engine]!;
        expect(await answer(c, name, "/blog")).toEqual(["/blog", 200, null, "BLOG LIST"]);
        expect(await answer(c, name, "/blog?page=2")).toEqual(["/blog?page=2", 200, null, "BLOG LIST"]);
        expect(await answer(c, name, "/blog/")).toEqual(["/blog/", 301, "/blog", null]);
        expect(await answer(c, name, "/blog/first")).toEqual(["/blog/first", 200, null, "FIRST POST"]);
        expect(await answer(c, name, "/caf%C3%A9")).toEqual(["/caf%C3%A9", 200, null, "CAFE"]);
        expect(await answer(c, name, "/caf%C3%A9/menu")).toEqual(["/caf%C3%A9/menu", 200, null, "MENU"]);
        expect(await answer(c, name, "/docs")).toEqual(["/docs", 301, "/docs/", null]);
        expect(await answer(c, name, "/docs/")).toEqual(["/docs/", 200, null, "DOCS"]);
      });

    test("exportruled: _headers of /blog apply to blog.html served at /blog", async () => {
      const r = await get(engines[engine]!, "exportruled", "/blog");
      expect([r.status, await r.text(), r.headers.get("x-page")]).toEqual([200, "BLOG LIST", "blog list"]);
    });

    test("spa: /* /index.html 200 answers a folder without index.html; files, pages and folders with index.html still shadow it", async () => {
      const c = engines[engine]!;
      expect(await answer(c, "spa", "/images")).toEqual(["/images", 200, null, "APP SHELL"]);
      expect(await answer(c, "spa", "/images/")).toEqual(["/images/", 200, null, "APP SHELL"]);
      expect(await answer(c, "spa", "/images/logo.png")).toEqual(["/images/logo.png", 200, null, "PNG"]);
      expect(await answer(c, "spa", "/dashboard")).toEqual(["/dashboard", 200, null, "APP SHELL"]);
      expect(await answer(c, "spa", "/about")).toEqual(["/about", 200, null, "ABOUT"]);
      expect(await answer(c, "spa", "/docs")).toEqual(["/docs", 301, "/docs/", null]);
      expect(await answer(c, "spa", "/docs/")).toEqual(["/docs/", 200, null, "DOCS"]);
      expect(await answer(c, "spa", "/")).toEqual(["/", 200, null, "APP SHELL"]);
    });
  });
}
