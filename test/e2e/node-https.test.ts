// HTTPS on a node without a gateway (issue 10: `--https-listen HOST:PORT` on nodes and gateways): the
// node answers HTTP-01 through its own nginx, takes the certificate from the master and serves the
// site over HTTPS with HTTP/2; HTTP redirects once the certificate is active; keep-HTTP and HSTS.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, type Node, type Pebble, api, cleanup, cluster, freePort, site, start, startDns, startPebble, tempDir } from "../helpers/cluster";
import { selfSignedCertificate } from "../../src/shared/tls";

let c: Cluster;
let node: Node;
let pebble: Pebble;
const httpPort = freePort();
const httpsPort = freePort();
const host = "www.node.test";
const wildDir = tempDir();
const wildcardCert = join(wildDir, "wildcard.crt");

beforeAll(async () => {
  const dns = await startDns(["--local=/node.test/", "--local=/sprout.test/", "--host-record=direct.sprout.test,127.0.0.1", `--cname=${host},direct.sprout.test`]);
  // pebble validates HTTP-01 on the name's address at httpPort: the node's own nginx.
  pebble = await startPebble(dns.port, httpPort);
  // The operator's wildcard certificate for the sites' own hosts.
  const w = await selfSignedCertificate("sprout.test wildcard", ["*.sprout.test"]);
  writeFileSync(wildcardCert, w.certPem);
  writeFileSync(join(wildDir, "wildcard.key"), w.keyPem, { mode: 0o600 });
  c = await cluster({
    agents: 0,
    masterArgs: ["--wildcard-cert", wildcardCert, "--wildcard-key", join(wildDir, "wildcard.key"), "--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "2", "--acme-directory", pebble.directory, "--acme-email", "ops@example.test", "--acme-ca-file", pebble.caFile],
  });
  node = await c.addAgent("node1", ["--http-listen", `127.0.0.1:${httpPort}`, "--https-listen", `127.0.0.1:${httpsPort}`]);
  // One replica: the second node of the last test holds none of it.
  expect((await c.sprout(["sites", "create", "direct", "--replicas", "1"])).code).toBe(0);
  expect((await c.sprout(["deploy", site({ "index.html": "served by the node", "about.html": "about" }), "--site", "direct", "--prod"])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

const curl = (root: string, args: string[], path = "/") =>
  Bun.spawnSync(["curl", "-sS", "--max-time", "10", "--cacert", root, "--resolve", `${host}:${httpsPort}:127.0.0.1`, ...args, `https://${host}:${httpsPort}${path}`], { stdout: "pipe", stderr: "pipe" });

async function until(what: string, f: () => Promise<boolean> | boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await Bun.sleep(300);
  }
  throw new Error(`${what} not within ${ms / 1000} s:\n${c.logs()}\n${readFileSync(join(node.data, "nginx/https/servers.conf"), "utf8")}`);
}

test("a node without a gateway gets a certificate for a custom domain over HTTP-01 and serves it over HTTPS with HTTP/2; HTTP redirects", async () => {
  // Before any certificate, the domain is served over plain HTTP by the node.
  const added = JSON.parse((await c.sprout(["domains", "add", host, "--site", "direct", "--json"])).stdout);
  expect(added.status).toBe("active");
  let d: any;
  await until(
    "a certificate",
    async () => {
      d = (await api(c.master, "GET", `/api/domains/${host}`, undefined, c.admin.token)).body;
      return d.certificate?.status === "active";
    },
    45_000,
  );
  const root = await pebble.rootFile();
  await until("the site over HTTPS", () => curl(root, []).stdout.toString() === "served by the node");
  // HTTP/2, and the site's clean URLs work as over HTTP (the site's own server answers).
  const h2 = curl(root, ["--http2", "-o", "/dev/null", "-w", "%{http_version}"]);
  expect(h2.stdout.toString()).toBe("2");
  expect(curl(root, [], "/about").stdout.toString()).toBe("about");
  // TLS 1.0/1.1 are refused (Mozilla intermediate: TLS 1.2 and 1.3).
  const old = Bun.spawnSync(["openssl", "s_client", "-connect", `127.0.0.1:${httpsPort}`, "-servername", host, "-tls1_1"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  expect(old.exitCode).not.toBe(0);
  // A name the node has no certificate for is refused at the handshake.
  const other = Bun.spawnSync(["curl", "-sS", "-k", "--resolve", `other.node.test:${httpsPort}:127.0.0.1`, `https://other.node.test:${httpsPort}/`], { stdout: "pipe", stderr: "pipe" });
  expect(other.exitCode).not.toBe(0);
  // Plain HTTP to the node redirects to HTTPS, path and query kept; challenges still reach the master.
  const plain = await fetch(`${node.httpUrl}/about?x=1`, { headers: { host }, redirect: "manual" });
  expect(plain.status).toBe(301);
  expect(plain.headers.get("location")).toBe(`https://${host}:${httpsPort}/about?x=1`);
  const challenge = await fetch(`${node.httpUrl}/.well-known/acme-challenge/unknown-token`, { headers: { host }, redirect: "manual" });
  expect(challenge.status).toBe(404);
  expect(await challenge.text()).toContain("not_found");
  // No HSTS unless the site asks for it.
  expect(curl(root, ["-I"]).stdout.toString().toLowerCase()).not.toContain("strict-transport-security");
  // The platform host keeps being served over HTTP by the node.
  expect(await (await c.get("direct.sprout.test", "/", node)).text()).toBe("served by the node");
}, 120_000);

test("on a node, a site opts in to HSTS and can keep plain HTTP for its domains", async () => {
  const root = await pebble.rootFile();
  const head = () => curl(root, ["-I"]).stdout.toString().toLowerCase();
  const plain = () => fetch(`${node.httpUrl}/`, { headers: { host }, redirect: "manual" });
  expect((await c.sprout(["sites", "set", "direct", "--hsts", "true"])).code).toBe(0);
  await until("HSTS sent", () => head().includes("strict-transport-security: max-age=31536000"));
  expect((await c.sprout(["sites", "set", "direct", "--keep-http", "true"])).code).toBe(0);
  await until("plain HTTP served", async () => (await plain()).status === 200);
  expect(await (await plain()).text()).toBe("served by the node");
  expect((await plain()).headers.get("strict-transport-security")).toBeNull();
  expect((await c.sprout(["sites", "set", "direct", "--keep-http", "false", "--hsts", "false"])).code).toBe(0);
  await until("HTTP redirects again", async () => (await plain()).status === 301);
  await until("HSTS no longer sent", () => !head().includes("strict-transport-security"));
}, 90_000);

test("with the platform's wildcard certificate, a node serves its sites' own hosts over HTTPS", async () => {
  const get = (name: string) => Bun.spawnSync(["curl", "-sS", "--max-time", "10", "--cacert", wildcardCert, "--resolve", `${name}:${httpsPort}:127.0.0.1`, `https://${name}:${httpsPort}/about`], { stdout: "pipe", stderr: "pipe" });
  await until("the site's own host over HTTPS", () => get("direct.sprout.test").stdout.toString() === "about");
  // A site the node does not hold: the handshake succeeds, the node answers 404 as over HTTP.
  const none = Bun.spawnSync(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", wildcardCert, "--resolve", `nosuch.sprout.test:${httpsPort}:127.0.0.1`, `https://nosuch.sprout.test:${httpsPort}/`], { stdout: "pipe" });
  expect(none.stdout.toString()).toBe("404");
}, 60_000);

test("a node receives the certificates and keys of its own sites' domains only", async () => {
  // The node's own token: GET /api/agent/tls lists only its sites' domains.
  const mine = await api(c.master, "GET", "/api/agent/tls", undefined, node.token);
  expect(mine.status).toBe(200);
  expect(mine.body.domains.map((d: any) => d.name)).toEqual([host]);
  const other = await c.addAgent("node2");
  const theirs = await api(c.master, "GET", "/api/agent/tls", undefined, other.token);
  expect(theirs.status).toBe(200);
  expect(theirs.body.domains).toEqual([]);
  // The domain's key reaches the node that serves it only (the platform's wildcard goes to all nodes).
  expect(mine.body.domains[0].key_pem).toContain("PRIVATE KEY");
  expect(JSON.stringify(theirs.body.domains)).not.toContain("PRIVATE KEY");
}, 60_000);

test("a node restarted while the master is down serves HTTPS from the certificates it saved", async () => {
  const root = await pebble.rootFile();
  await c.masterProc.kill();
  await node.p.kill();
  const { p } = await start(
    "agent node1 (restarted, master down)",
    ["agent", "--master", c.master, "--name", "node1", "--listen", `127.0.0.1:${new URL(node.url).port}`, "--http-listen", `127.0.0.1:${httpPort}`, "--https-listen", `127.0.0.1:${httpsPort}`, "--data", node.data],
    { SPROUT_AGENT_TOKEN: node.token },
    /nginx serving on/,
  );
  try {
    await until("the site over HTTPS", () => curl(root, []).stdout.toString() === "served by the node");
  } finally {
    await p.kill();
  }
}, 60_000);
