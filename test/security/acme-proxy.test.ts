// The ACME HTTP-01 hand-over: gateways and nodes (--https-listen) pass /.well-known/acme-challenge/
// on to the master. nginx chose that location from the normalized path, then sent the master the
// path as the visitor wrote it; the master (Bun) reads "\" as "/" and resolves the dot segments
// nginx left alone, so `/.well-known/acme-challenge/..\..\metrics` reached any path of the master's
// API from the visitor path: past a firewall that keeps the master to the private network, and as
// the gateway's private address (/metrics answers private addresses without a token).
import { beforeAll, expect, test } from "bun:test";
import { Socket } from "node:net";
import { type Cluster, type Gateway, type Node, addGateway, freePort, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 0 });
let c: Cluster;
let gw: Gateway;
let node: Node;
beforeAll(async () => {
  c = cl();
  gw = await addGateway(c, "gw1");
  node = await c.addAgent("node1", ["--https-listen", `127.0.0.1:${freePort()}`]);
}, 60_000);

/** raw sends one request line as written (fetch would normalize the path) and answers status and body. */
function raw(base: string, method: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const s = new Socket();
    let data = "";
    s.setTimeout(10_000, () => s.destroy(new Error("timeout")));
    s.connect(Number(u.port), u.hostname, () => s.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    s.on("data", (b) => (data += b));
    s.on("error", reject);
    s.on("close", () => {
      const [head, ...rest] = data.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head ?? "")?.[1] ?? 0), body: rest.join("\r\n\r\n") });
    });
  });
}

const ESCAPES = [
  "/.well-known/acme-challenge/..\\..\\metrics",
  "/.well-known/acme-challenge/x\\..\\..\\..\\y/../metrics",
  "/.well-known/acme-challenge/..%5c..%5cmetrics",
  "/.well-known/acme-challenge/%2e%2e/%2e%2e/metrics",
];

test("a challenge path never reaches the rest of the master through a gateway or a node", async () => {
  const metrics = await raw(c.master, "GET", "/metrics", "x");
  expect(metrics.body).toContain("sprout_"); // what leaking looks like
  for (const [name, base] of [["gateway", gw.httpUrl], ["node", node.httpUrl]] as const) {
    for (const path of ESCAPES) {
      const r = await raw(base, "GET", path, "www.example.org");
      expect({ name, path, leaked: r.body.includes("sprout_") }).toEqual({ name, path, leaked: false });
      expect(r.status).toBe(404);
    }
    // A challenge token itself still goes to the master (it knows no such token: its 404).
    const ok = await raw(base, "GET", "/.well-known/acme-challenge/AbC-123_xyz", "www.example.org");
    expect(ok.status).toBe(404);
    expect(ok.body).toContain("Challenge");
    // Only GET/HEAD: the master's API takes no other method here.
    expect((await raw(base, "POST", "/.well-known/acme-challenge/AbC-123_xyz", "www.example.org")).status).toBe(403);
  }
}, 60_000);
