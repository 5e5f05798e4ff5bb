// HTTP API reference (operations issue): the master serves an OpenAPI document generated from the
// same schemas that validate its requests. The test records every request the CLI really makes to
// the master (through a recording proxy) over a tour of its commands, and finds each one in the
// document, with its body schema where the route has one.
import { expect, test } from "bun:test";
import { site, useCluster } from "../helpers/cluster";

const cluster = useCluster({ agents: 1 });

type Doc = { openapi: string; info: { version: string }; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };

test("the master serves an OpenAPI document that lists every route the CLI uses", async () => {
  const c = cluster();
  const res = await fetch(`${c.master}/api/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as Doc;
  expect(doc.openapi).toStartWith("3.1");
  expect(doc.info.version).toBe("0.1.0");
  // The admin UI's pages are not API.
  expect(Object.keys(doc.paths).some((p) => p.startsWith("/ui"))).toBe(false);
  // Bodies carry their schema: e.g. creating a site takes a name.
  expect(doc.paths["/api/site"]!.post!.requestBody!.content["application/json"]!.schema.properties).toHaveProperty("name");

  // A proxy in front of the master notes every request the CLI sends.
  const seen = new Set<string>();
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      seen.add(`${req.method} ${u.pathname}`);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const r = await fetch(`${c.master}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body });
      return new Response(r.body, { status: r.status, headers: r.headers });
    },
  });
  try {
    const env = { SPROUT_MASTER: `http://127.0.0.1:${proxy.port}` };
    const run = async (args: string[]) => {
      const r = await c.sprout(args, env);
      expect(r.code, `sprout ${args.join(" ")}: ${r.stderr}`).toBe(0);
      return r;
    };
    await run(["sites", "create", "tour", "--replicas", "1"]);
    await run(["sites", "set", "tour", "--spa", "true"]);
    await run(["deploy", site({ "index.html": "one" }), "--site", "tour", "--prod"]);
    await run(["deploy", site({ "index.html": "two" }), "--site", "tour"]);
    const list = JSON.parse((await run(["deployments", "--site", "tour", "--json"])).stdout);
    await run(["promote", list[0].id, "--site", "tour"]);
    await run(["rollback", "--site", "tour"]);
    await run(["logs", list[0].id]);
    await run(["status", "--site", "tour"]);
    await run(["sites"]);
    await run(["sites", "tour"]);
    await run(["stats", "tour"]);
    await run(["whoami"]);
    const token = JSON.parse((await run(["tokens", "create", "tour-token", "--json"])).stdout);
    await run(["tokens"]);
    await run(["tokens", "revoke", token.id]);
    await run(["users"]);
    await run(["users", "invite", "tour@example.com", "--password", "long enough password"]);
    await run(["audit"]);
    await run(["agents"]);
    await run(["agents", "drain", "node1"]);
    await run(["agents", "drain", "node1", "--undo"]);
    await run(["agents", "create", "tour-node"]);
    await run(["agents", "rotate-token", "tour-node"]);
    await run(["agents", "set-url", "tour-node", "http://10.9.9.9:7070"]);
    await run(["agents", "remove", "tour-node"]);
    await run(["domains"]);
    await run(["sites", "delete", "tour", "--yes"]);
  } finally {
    proxy.stop(true);
  }

  const templates = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => ({ method: m.toUpperCase(), re: new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`) })),
  );
  const missing = [...seen].filter((r) => {
    const [method, path] = r.split(" ");
    return !templates.some((t) => t.method === method && t.re.test(path!));
  });
  expect(seen.size).toBeGreaterThan(15);
  expect(missing).toEqual([]);
}, 120_000);
