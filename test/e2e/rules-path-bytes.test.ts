// A visitor's path meets a site's _redirects exactly as its own characters say, whatever they are:
// "#" and "|" (%23, %7C: the separators of the rules' key), a line break (%0A), "?" and "%" (%3F,
// %25). Forced rules apply to such paths (a file under /private named with a "#" stays behind the
// login), unforced ones yield to a file of that name, and no such path makes a rule match that its
// pattern does not. A value taken from the path goes into a redirect's Location or a proxied URL
// encoded, so a "#" stays part of the path instead of becoming a fragment. Both rules engines, with
// few rules and with enough for their combined test; real agents, real nginx.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cleanup, cluster, site, type Cluster } from "../helpers/cluster";

let lua: Cluster;
let include: Cluster;
/** upstream is a proxy rule's other site: it answers the raw path it was asked for. */
let upstream: ReturnType<typeof Bun.serve>;

const rules = (port: number) => [
  "/private/* /login 302!",
  "/docs/* /manual/:splat 301",
  "/ph/:a/:b /t/:b/:a 302",
  "/f/:n /gone/:n 302",
  "/a%23b /hash-rule 301",
  "/s q=v /yes 301",
  "/api/* http://127.0.0.1:" + port + "/v1/:splat 200",
  "/rw/* /shown/:splat 200",
];
const files = (port: number, fillers: number) => ({
  "index.html": "HOME",
  "private/x#y.html": "SECRET",
  "private/x|y.html": "SECRET2",
  "f/a#b.html": "FILE A#B",
  "shown/a#b.html": "SHOWN A#B",
  // Fillers first: with more than 32 rules both engines try a combined regex before the rules.
  _redirects: `${[...Array.from({ length: fillers }, (_, k) => `/filler${k} /elsewhere${k} 301`), ...rules(port)].join("\n")}\n`,
});

beforeAll(async () => {
  upstream = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => new Response(`upstream ${req.url.slice(req.url.indexOf("/", 8))}`) });
  lua = await cluster({ agentArgs: ["--rules-engine", "lua", "--allow-private-proxy"] });
  // One site per shard: "few" is served by the main nginx, "many" by a shard's own nginx.conf.
  include = await cluster({ agentArgs: ["--rules-engine", "nginx", "--allow-private-proxy", "--sites-per-shard", "1"] });
  for (const c of [lua, include])
    for (const [name, fillers] of [["few", 0], ["many", 40]] as const) {
      const r = await c.sprout(["deploy", site(files(upstream.port!, fillers)), "--site", name, "--prod", "--json"]);
      if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}\n${c.logs()}`);
    }
}, 120_000);
afterAll(async () => {
  upstream?.stop(true);
  await cleanup();
});

/** answer: "<status> <Location or the body's start>" of a path, as a visitor's browser sees it. */
async function answer(c: Cluster, host: string, path: string): Promise<string> {
  const r = await c.get(`${host}.${c.domain}`, path);
  return `${r.status} ${r.headers.get("location") ?? (await r.text()).slice(0, 40)}`;
}

/** expectEverywhere: each engine, with few and many rules, answers `path` as `want`. */
async function expectEverywhere(want: Record<string, string>) {
  const got: Record<string, string> = {};
  const expected: Record<string, string> = {};
  for (const [engine, c] of [["lua", lua], ["include", include]] as const)
    for (const host of ["few", "many"])
      for (const [path, answer_] of Object.entries(want)) {
        got[`${engine} ${host} ${path}`] = await answer(c, host, path);
        expected[`${engine} ${host} ${path}`] = answer_;
      }
  expect(got).toEqual(expected);
}

describe("a path holding # or | meets the rules as any other path", () => {
  test("forced rules apply: a file named with # or | under /private stays behind the login", async () => {
    expect(existsSync(join(include.nodes[0]!.data, "nginx", "shards", "1", "sites", "many.conf"))).toBe(true);
    await expectEverywhere({
      "/private/x%23y": "302 /login",
      "/private/x%23y.html": "302 /login",
      "/private/x%7Cy": "302 /login",
      "/private/%23": "302 /login",
      "/private/x%0Ay": "302 /login",
    });
  });

  test("splats, placeholders and encoded rule paths match it, and its values are encoded in the Location", async () => {
    await expectEverywhere({
      "/docs/a%23b": "301 /manual/a%23b",
      "/docs/a%23b/c%7Cd#frag": "301 /manual/a%23b/c|d",
      "/docs/%23%7C%231": "301 /manual/%23|%231",
      "/docs/q%3Fx%25y%20z": "301 /manual/q%3Fx%25y%20z",
      "/docs/x?keep=1": "301 /manual/x?keep=1",
      "/docs": "301 /manual/",
      "/ph/x%23y/%7C%23": "302 /t/|%23/x%23y",
      "/a%23b": "301 /hash-rule",
    });
  });

  test("an unforced rule yields to a file whose name holds #, and applies where there is none", async () => {
    await expectEverywhere({
      "/f/a%23b": "200 FILE A#B",
      "/f/c%23d": "302 /gone/c%23d",
    });
  });

  test("a 200 rewrite serves the file its value names; a proxied URL carries the value encoded", async () => {
    await expectEverywhere({
      "/rw/a%23b": "200 SHOWN A#B",
      "/api/a%23b%3Fc%20d": "200 upstream /v1/a%23b%3Fc%20d",
    });
  });

  test("no path can pose as the key's other parts: a rule matches only what its pattern says", async () => {
    // The key of /s?q=v is "/s#|v": these paths hold that text and more, with no query.
    const statuses: Record<string, number> = {};
    for (const [engine, c] of [["lua", lua], ["include", include]] as const)
      for (const host of ["few", "many"])
        for (const p of ["/s%23%7Cv", "/s%23", "/s%23%7C", "/s%7Cv", "/f%23%7C"]) statuses[`${engine} ${host} ${p}`] = (await c.get(`${host}.${c.domain}`, p)).status;
    expect(Object.entries(statuses).filter(([, s]) => s !== 404)).toEqual([]);
    await expectEverywhere({ "/s?q=v": "301 /yes", "/private": "302 /login" });
  });

  test("a value with more bytes to encode than the include engine's maps hold: encoded by Lua, refused (400) by the include engine", async () => {
    const path = (n: number) => `/docs/x${"%23".repeat(n)}`;
    expect(await answer(lua, "few", path(17))).toBe(`301 /manual/x${"%23".repeat(17)}`);
    expect(await answer(include, "few", path(16))).toBe(`301 /manual/x${"%23".repeat(16)}`);
    expect((await include.get(`few.${include.domain}`, path(17))).status).toBe(400);
  });
});
