// The visitor's address over a node's own HTTPS (--https-listen): TLS ends in the node's nginx and
// the request goes on to the node's HTTP servers, so every rule applies; those servers must still
// see the visitor, not the node itself, and no visitor may choose the address they see. Visitors
// come from other loopback addresses (curl --interface 127.0.0.x): 127.0.0.1 is the node itself.
// Both rules engines: the Lua engine (every site in one server) and the include engine (sites in
// the main nginx and in shards behind it).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, type Node, cleanup, cluster, freePort, site, tempDir } from "../helpers/cluster";
import { selfSignedCertificate } from "../../src/shared/tls";

afterAll(cleanup);

for (const engine of ["lua", "nginx"] as const)
 describe(`rules engine ${engine}`, () => {
  let c: Cluster;
  let node: Node;
  const httpsPort = freePort();
  const wildDir = tempDir();
  const wildcardCert = join(wildDir, "wildcard.crt");
  /** TRUSTED: the one address the node takes X-Forwarded-For from (a load balancer in front). */
  const TRUSTED = "127.0.0.3";
  /** VISITOR: a visitor's own address. */
  const VISITOR = "127.0.0.2";

  /** upstream is the other site of the proxy rules: it echoes the addresses it was given. */
  let upstream: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    upstream = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => Response.json({ xff: req.headers.get("x-forwarded-for") }),
    });
    const w = await selfSignedCertificate("sprout.test wildcard", ["*.sprout.test"]);
    writeFileSync(wildcardCert, w.certPem);
    writeFileSync(join(wildDir, "wildcard.key"), w.keyPem, { mode: 0o600 });
    c = await cluster({ agents: 0, masterArgs: ["--wildcard-cert", wildcardCert, "--wildcard-key", join(wildDir, "wildcard.key")] });
    // With the include engine, one site with rules per nginx: the first in the main nginx, the
    // others in shards 1 and 2.
    node = await c.addAgent("node1", ["--https-listen", `127.0.0.1:${httpsPort}`, "--allow-private-proxy", "--rules-engine", engine, "--sites-per-shard", "1", "--trusted-proxies", TRUSTED]);
    const echo = `/api/* http://127.0.0.1:${upstream.port}/:splat 200\n`;
    const regional = "/shop /shop/anz 302 Country=au,nz\n/shop /shop/world 302\n";
    for (const [name, rules] of [["echomain", echo], ["echoshard", echo], ["regional", regional]]) {
      expect((await c.sprout(["sites", "create", name!])).code).toBe(0);
      const r = await c.sprout(["deploy", site({ "index.html": name!, _redirects: rules! }), "--site", name!, "--prod"]);
      if (r.code !== 0) throw new Error(`deploy ${name} failed:\n${r.stderr}\n${c.logs()}`);
    }
  }, 90_000);
  afterAll(async () => {
    upstream?.stop(true);
    await c?.stop();
  });

  /**
   * get asks the node for `path` of a site from the address `from`, over HTTPS or plain HTTP (curl,
   * run asynchronously: the upstream answering the proxy rules runs in this process).
   */
  async function get(scheme: "https" | "http", name: string, path: string, from: string, headers: Record<string, string> = {}) {
    const port = scheme === "https" ? httpsPort : Number(new URL(node.httpUrl).port);
    const host = `${name}.${c.domain}`;
    const r = Bun.spawn(
      ["curl", "-sS", "--max-time", "10", "--interface", from, "--cacert", wildcardCert, "--resolve", `${host}:${port}:127.0.0.1`, "-D", "-", ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]), `${scheme}://${host}:${port}${path}`],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [out, error, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
    const [head = "", body = ""] = out.split("\r\n\r\n");
    return { ok: code === 0, head: head.toLowerCase(), body, error };
  }
  const location = (r: { head: string }) => /^location: (.*)$/m.exec(r.head)?.[1]?.trim() ?? null;
  /** addresses: the X-Forwarded-For a proxy rule's upstream received, as a list. */
  const addresses = (r: { body: string }) => ((JSON.parse(r.body) as { xff: string | null }).xff ?? "").split(/,\s*/);

  async function until(what: string, f: () => Promise<boolean>, ms = 30_000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await f()) return;
      await Bun.sleep(300);
    }
    throw new Error(`${what} not within ${ms / 1000} s:\n${c.logs()}`);
  }

  test("over a node's own HTTPS, a proxy rule's upstream sees the visitor's address, whether the site is in the main nginx or in a shard", async () => {
    for (const name of ["echomain", "echoshard"]) {
      await until(`${name} over HTTPS`, async () => (await get("https", name, "/", VISITOR)).body === name);
      const r = await get("https", name, "/api/who", VISITOR);
      expect(r.error).toBe("");
      const seen = addresses(r);
      // The last address is the one the node saw the request come from: the visitor, never the node.
      expect(seen.at(-1)).toBe(VISITOR);
      expect(seen).not.toContain("127.0.0.1");
      // As over plain HTTP.
      expect(addresses(await get("http", name, "/api/who", VISITOR)).at(-1)).toBe(VISITOR);
    }
  }, 60_000);

  test("over a node's own HTTPS behind a trusted load balancer, Country= rules follow the visitor's country", async () => {
    await until("regional over HTTPS", async () => (await get("https", "regional", "/", VISITOR)).body === "regional");
    // 1.1.1.1 is in Australia in the GeoIP database, 8.8.8.8 in the United States.
    expect(location(await get("https", "regional", "/shop", TRUSTED, { "x-forwarded-for": "1.1.1.1" }))).toBe("/shop/anz");
    expect(location(await get("https", "regional", "/shop", TRUSTED, { "x-forwarded-for": "8.8.8.8" }))).toBe("/shop/world");
    // As over plain HTTP.
    expect(location(await get("http", "regional", "/shop", TRUSTED, { "x-forwarded-for": "1.1.1.1" }))).toBe("/shop/anz");
  }, 60_000);

  test("a visitor cannot choose the address a node sees with X-Forwarded-For or X-Sprout-Client, over HTTPS or HTTP", async () => {
    const spoof = { "x-forwarded-for": "1.1.1.1", "x-sprout-client": "1.1.1.1", "x-real-ip": "1.1.1.1" };
    for (const scheme of ["https", "http"] as const) {
      expect(location(await get(scheme, "regional", "/shop", VISITOR, spoof))).toBe("/shop/world");
      for (const name of ["echomain", "echoshard"]) {
        expect(addresses(await get(scheme, name, "/api/who", VISITOR, spoof)).at(-1)).toBe(VISITOR);
      }
    }
    // The node itself (127.0.0.1) is no trusted proxy either.
    expect(location(await get("https", "regional", "/shop", "127.0.0.1", spoof))).toBe("/shop/world");
    expect(location(await get("http", "regional", "/shop", "127.0.0.1", spoof))).toBe("/shop/world");
  }, 60_000);
 });
