// Issue 6, the agent's upload path, blob store and replication, tried as a hostile tenant would:
// each test is one attack against the compiled binary and a real nginx, which must now be refused
// or harmless, with nothing left on the node's disk where that applies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, generateKeyPair, importJWK, type JWK } from "jose";
import { type Cluster, type Node, api, cleanup, cluster, site } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";
import { hashPassword } from "../../src/shared/htpasswd";

/** T: room for one attack on a busy two-core machine (bun's default is 5 s a test). */
const T = 120_000;

// As useCluster, with room for two agents to start on a busy machine (a hook's default is 5 s).
let c: Cluster;
beforeAll(async () => {
  c = await cluster({ agents: 2 });
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
}, 60_000);

type Entry = { path: string; sha256: string; size: number };
const entry = (path: string, body: string): Entry => ({ path, sha256: sha256(body), size: Buffer.byteLength(body) });
const sorted = (m: Entry[]) => [...m].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** create asks the master for a deployment and its upload grant, as the CLI does. */
async function create(token: string, siteName: string, manifest: Entry[], production = true) {
  const r = await api(c.master, "POST", "/api/deployment", { site: siteName, production, manifest }, token);
  if (r.status !== 200 && r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return { id: r.body.deployment.id as string, agentUrl: r.body.upload.agent_url as string, grant: r.body.upload.grant as string };
}

const init = (d: { id: string; agentUrl: string; grant: string }, manifest: Entry[]) =>
  api(d.agentUrl, "POST", "/api/upload/init", { grant: d.grant, deployment_id: d.id, manifest });

const upload = (d: { id: string; agentUrl: string }, token: string, tar: Uint8Array) =>
  fetch(`${d.agentUrl}/api/upload/file`, { method: "POST", headers: { "x-upload-token": token, "x-deployment-id": d.id }, body: tar as unknown as BodyInit });

async function waitStatus(token: string, id: string, want: (s: string) => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  let info: any;
  while (Date.now() < end) {
    info = (await api(c.master, "GET", `/api/deployment/${id}`, undefined, token)).body;
    if (want(info.status)) return info;
    await Bun.sleep(100);
  }
  throw new Error(`deployment ${id} stayed ${info?.status}: ${JSON.stringify(info?.events?.slice(-5))}`);
}

const nodeOf = (url: string): Node => c.nodes.find((n) => n.url === url)!;
const blobPath = (n: Node, sha: string) => join(n.data, "blobs", sha.slice(0, 2), sha);

/** masterKey is the master's grant signing key, read from its database (what only the master holds). */
function masterKey(): string {
  const db = new Database(join(c.home, "master", "sprout.db"), { readonly: true });
  try {
    const row = db.query<{ value: string }, []>("SELECT value FROM kv WHERE key = 'grant_keys'").get()!;
    return (JSON.parse(row.value) as { privateJwk: string }).privateJwk;
  } finally {
    db.close();
  }
}

async function masterSigned(claims: Record<string, unknown>, key = masterKey()) {
  const k = await importJWK(JSON.parse(key) as JWK, "EdDSA");
  return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().setExpirationTime("5m").sign(k);
}

/** grep answers the files under `dir` that contain `needle`. */
const grep = (dir: string, needle: string) => Bun.spawnSync(["grep", "-rl", "--", needle, dir]).stdout.toString().trim();

describe("upload init", () => {
  test("an init of 100,000 files answers within seconds and the node keeps answering heartbeats meanwhile", async () => {
    const manifest = sorted(Array.from({ length: 100_000 }, (_, i) => entry(`f/${String(i).padStart(6, "0")}.txt`, `file ${i}`)));
    const d = await create(c.admin.token, "huge", manifest, false);
    let done = false;
    const gaps: number[] = [];
    const beats = (async () => {
      while (!done) {
        const t0 = performance.now();
        const r = await fetch(`${d.agentUrl}/api/heartbeat`);
        expect(r.status).toBe(200);
        gaps.push(performance.now() - t0);
        await Bun.sleep(50);
      }
    })();
    const t0 = performance.now();
    const r = await init(d, manifest);
    const took = performance.now() - t0;
    done = true;
    await beats;
    expect(r.status).toBe(200);
    expect(r.body.missing.length).toBe(100_000);
    // Before: 20+ s with the event loop frozen (the master marked the node offline).
    expect(took).toBeLessThan(15_000);
    expect(gaps.length).toBeGreaterThan(0);
    expect(Math.max(...gaps)).toBeLessThan(5_000);
  }, T);

  test("one grant cannot init again and again: at once it gets 409, in a loop 429, and never after its deployment finished", async () => {
    const manifest = sorted(Array.from({ length: 50_000 }, (_, i) => entry(`p/${i}.txt`, `page ${i}`)));
    const d = await create(c.admin.token, "loop", manifest, false);
    const first = await Promise.all([init(d, manifest), init(d, manifest)]);
    expect(first.map((r) => r.status).sort()).toEqual([200, 409]);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await init(d, manifest)).status);
    expect(statuses).toContain(429);

    const small = [entry("index.html", "done")];
    const e = await create(c.admin.token, "loop", small, false);
    const i = await init(e, small);
    expect((await upload(e, i.body.upload_token, await makeTar([{ header: { name: "index.html" }, body: "done" }]))).status).toBe(200);
    const again = await init(e, small);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("deployment_finished");
  }, T);
});

describe("parallel uploads", () => {
  test("parallel uploads to one deployment: one stages it, the others get 409, and its Basic-Auth holds", async () => {
    const files: Record<string, string> = { "private.html": "members only", _headers: `/private.html\n  Basic-Auth: alice:${hashPassword("rabbit-hole")}\n` };
    for (let i = 0; i < 300; i++) files[`a/${i}.css`] = `.c${i}{color:red}`.repeat(60);
    const manifest = sorted(Object.entries(files).map(([p, b]) => entry(p, b)));
    const d = await create(c.admin.token, "racy", manifest, true);
    const i = await init(d, manifest);
    expect(i.status).toBe(200);
    const tar = await makeTar(manifest.map((e) => ({ header: { name: e.path }, body: files[e.path]! })));
    const answers = await Promise.all(Array.from({ length: 6 }, () => upload(d, i.body.upload_token, tar)));
    const codes = answers.map((r) => r.status);
    expect(codes.filter((s) => s === 200).length).toBe(1);
    expect(codes.filter((s) => s === 409).length).toBe(5);
    await waitStatus(c.admin.token, d.id, (s) => s === "ready" || s === "failed");
    const host = `racy.${c.domain}`;
    for (const n of c.nodes) {
      expect((await c.get(host, "/private.html", n)).status).toBe(401);
      const ok = await c.get(host, "/private.html", n, { headers: { authorization: `Basic ${btoa("alice:rabbit-hole")}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("members only");
    }
  }, T);
});

describe("deleting and abandoning", () => {
  test("deleting a site frees its files and the blobs only it used on every node at once; shared ones stay", async () => {
    const only = `only in doomed ${crypto.randomUUID()}`;
    const shared = `shared ${crypto.randomUUID()}`;
    expect((await c.sprout(["deploy", site({ "index.html": only, "s.txt": shared }), "--site", "doomed", "--prod"])).code).toBe(0);
    expect((await c.sprout(["deploy", site({ "index.html": "keeper", "s.txt": shared }), "--site", "keeper", "--prod"])).code).toBe(0);
    const holders = c.nodes.filter((n) => existsSync(blobPath(n, sha256(only))));
    expect(holders.length).toBe(2);
    expect((await c.sprout(["sites", "delete", "doomed", "--yes"])).code).toBe(0);
    const end = Date.now() + 15_000;
    while (Date.now() < end && holders.some((n) => existsSync(blobPath(n, sha256(only))) || existsSync(join(n.data, "sites", "doomed")))) await Bun.sleep(100);
    for (const n of holders) {
      expect(existsSync(join(n.data, "sites", "doomed"))).toBe(false);
      expect(existsSync(blobPath(n, sha256(only)))).toBe(false);
      expect(grep(join(n.data, "blobs"), only)).toBe("");
      expect(existsSync(blobPath(n, sha256(shared)))).toBe(true);
      expect(await (await c.get(`keeper.${c.domain}`, "/s.txt", n)).text()).toBe(shared);
    }
  }, T);

  test("an abandoned upload expires after the upload TTL and frees what it kept", async () => {
    const own = await cluster({ agentArgs: ["--upload-ttl", "4"] });
    try {
      const kept = `half-sent ${crypto.randomUUID()}`;
      const manifest = sorted([entry("a.txt", kept), entry("b.txt", "never sent")]);
      const r = await api(own.master, "POST", "/api/deployment", { site: "abandoned", production: true, manifest }, own.admin.token);
      const d = { id: r.body.deployment.id, agentUrl: r.body.upload.agent_url, grant: r.body.upload.grant };
      const i = await api(d.agentUrl, "POST", "/api/upload/init", { grant: d.grant, deployment_id: d.id, manifest });
      const up = await upload(d, i.body.upload_token, await makeTar([{ header: { name: "a.txt" }, body: kept }]));
      expect(((await up.json()) as any).staged).toBe(false);
      const n = own.nodes[0]!;
      const record = join(n.data, "uploads", `${d.id}.upload`);
      expect(existsSync(blobPath(n, sha256(kept)))).toBe(true);
      expect(existsSync(record)).toBe(true);
      const end = Date.now() + 20_000;
      while (Date.now() < end && (existsSync(record) || existsSync(blobPath(n, sha256(kept))))) await Bun.sleep(200);
      expect(existsSync(record)).toBe(false);
      expect(existsSync(blobPath(n, sha256(kept)))).toBe(false);
      expect(readdirSync(join(n.data, "uploads"))).toEqual([]);
    } finally {
      await own.stop();
    }
  }, T);
});

describe("content isolation", () => {
  test("a manifest naming another account's file by its digest gets nothing: the bytes must be uploaded", async () => {
    const secret = `admin's private notes ${crypto.randomUUID()}`;
    expect((await c.sprout(["deploy", site({ "index.html": "home", "notes.html": secret }), "--site", "vault", "--prod"])).code).toBe(0);
    const mallory = await c.user("mallory@example.com");
    const manifest = [entry("stolen.html", secret)];
    const d = await create(mallory, "heist", manifest, true);
    const i = await init(d, manifest);
    expect(i.status).toBe(200);
    // `missing` answers per account: the node holds the blob, but not for mallory.
    expect(i.body.missing).toEqual([sha256(secret)]);
    // Staging without sending the bytes stages nothing.
    const empty = await upload(d, i.body.upload_token, await makeTar([]));
    expect(((await empty.json()) as any).staged).toBe(false);
    const wrong = await upload(d, i.body.upload_token, await makeTar([{ header: { name: "stolen.html", size: Buffer.byteLength(secret) }, body: "x".repeat(Buffer.byteLength(secret)) }]));
    expect(wrong.status).toBe(400);
    for (const n of c.nodes) expect((await c.get(`heist.${c.domain}`, "/stolen.html", n)).status).toBe(404);
  }, T);

  test("uploading the bytes proves possession: the account may then use the blob, replicas included", async () => {
    const common = `a file many people have ${crypto.randomUUID()}`;
    expect((await c.sprout(["deploy", site({ "index.html": common }), "--site", "first-owner", "--prod"])).code).toBe(0);
    const bob = await c.user("bob@example.com");
    const manifest = [entry("index.html", common)];
    const d = await create(bob, "second-owner", manifest, true);
    const i = await init(d, manifest);
    expect(i.body.missing).toEqual([sha256(common)]);
    const up = await upload(d, i.body.upload_token, await makeTar([{ header: { name: "index.html" }, body: common }]));
    expect(((await up.json()) as any).staged).toBe(true);
    await waitStatus(bob, d.id, (s) => s === "ready");
    for (const n of c.nodes) expect(await (await c.get(`second-owner.${c.domain}`, "/", n)).text()).toBe(common);
  }, T);

  test("an agent gives blobs only to peers holding the master's token, and only the token's account's blobs", async () => {
    const secret = `blob for peers only ${crypto.randomUUID()}`;
    expect((await c.sprout(["deploy", site({ "index.html": secret }), "--site", "peerless", "--prod"])).code).toBe(0);
    const n = c.nodes[0]!;
    const sha = sha256(secret);
    const anon = await fetch(`${n.url}/api/blob/${sha}`);
    expect(anon.status).toBe(401);
    expect(await anon.text()).not.toContain(secret);
    // A token signed by anyone but the master is refused.
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const adminId = (await api(c.master, "GET", "/api/user/info", undefined, c.admin.token)).body.id;
    const claims = { typ: "sprout-peer-fetch", deployment_id: "x1x1x1x1", owner: adminId, from: n.id, to: c.nodes[1]!.id };
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA" }).setExpirationTime("5m").sign(privateKey);
    expect((await fetch(`${n.url}/api/blob/${sha}`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    // A master-signed token for another account, or for another node, gets nothing either.
    const other = await masterSigned({ ...claims, owner: "someoneelse1" });
    expect((await fetch(`${n.url}/api/blob/${sha}`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    const elsewhere = await masterSigned({ ...claims, from: c.nodes[1]!.id });
    expect((await fetch(`${n.url}/api/blob/${sha}`, { headers: { authorization: `Bearer ${elsewhere}` } })).status).toBe(403);
    const good = await fetch(`${n.url}/api/blob/${sha}`, { headers: { authorization: `Bearer ${await masterSigned(claims)}` } });
    expect(good.status).toBe(200);
    expect(await good.text()).toBe(secret);
  }, T);
});

describe("Basic-Auth passwords", () => {
  test("a plain-text Basic-Auth _headers sent through the raw API is refused and leaves nothing on the node", async () => {
    const headers = "/*\n  Basic-Auth: eve:plain-as-day\n";
    const manifest = sorted([entry("_headers", headers), entry("index.html", "x"), entry("other.txt", "other bytes")]);
    const d = await create(c.admin.token, "plainpw", manifest, true);
    const i = await init(d, manifest);
    const before = readdirSync(join(nodeOf(d.agentUrl).data, "blobs"), { recursive: true }).length;
    const r = await upload(d, i.body.upload_token, await makeTar([{ header: { name: "other.txt" }, body: "other bytes" }, { header: { name: "_headers" }, body: headers }, { header: { name: "index.html" }, body: "x" }]));
    expect(r.status).toBe(422);
    const body = (await r.json()) as any;
    expect(body.error.code).toBe("plain_password");
    expect(body.error.hint).toContain("sprout deploy");
    const n = nodeOf(d.agentUrl);
    expect(existsSync(blobPath(n, sha256(headers)))).toBe(false);
    expect(existsSync(blobPath(n, sha256("other bytes")))).toBe(false);
    expect(readdirSync(join(n.data, "blobs"), { recursive: true }).length).toBe(before);
    expect(grep(n.data, "plain-as-day")).toBe("");
  }, T);

  test("the CLI stores Basic-Auth as SHA-512 crypt with a random salt per password; nginx checks it", async () => {
    const dir = site({ "index.html": "open", "vip/index.html": "vip", _headers: "/vip/*\n  Basic-Auth: carol:s3same\n" });
    for (const name of ["crypt-a", "crypt-b"]) expect((await c.sprout(["deploy", dir, "--site", name, "--prod"])).code).toBe(0);
    for (const name of ["crypt-a", "crypt-b"]) {
      const h = `${name}.${c.domain}`;
      expect((await c.get(h, "/vip/")).status).toBe(401);
      expect((await c.get(h, "/vip/", undefined, { headers: { authorization: `Basic ${btoa("carol:wrong")}` } })).status).toBe(401);
      expect((await c.get(h, "/vip/", undefined, { headers: { authorization: `Basic ${btoa("carol:s3same")}` } })).status).toBe(200);
    }
    // What nginx reads: one SHA-512 crypt line per site, each with its own random salt (before: one
    // round of SHA-1 with a salt derived from the site name).
    const lines = new Set<string>();
    for (const f of grep(c.nodes[0]!.data, "carol:").split("\n").filter(Boolean))
      for (const line of readFileSync(f, "utf8").split("\n")) if (line.startsWith("carol:") && !line.includes("{")) lines.add(line.trim());
    expect(lines.size).toBe(2);
    for (const line of lines) expect(line).toMatch(/^carol:\$6\$rounds=\d+\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(grep(c.nodes[0]!.data, "s3same")).toBe("");
  }, T);

  test("{SSHA} hashes of earlier deploys keep working", async () => {
    const salt = Buffer.from("0123abcd");
    const ssha = `{SSHA}${Buffer.concat([createHash("sha1").update("old-pass").update(salt).digest(), salt]).toString("base64")}`;
    const headers = `/*\n  Basic-Auth: dave:${ssha}\n`;
    const manifest = sorted([entry("_headers", headers), entry("index.html", "legacy")]);
    const d = await create(c.admin.token, "legacy-auth", manifest, true);
    const i = await init(d, manifest);
    const r = await upload(d, i.body.upload_token, await makeTar([{ header: { name: "_headers" }, body: headers }, { header: { name: "index.html" }, body: "legacy" }]));
    expect(r.status).toBe(200);
    await waitStatus(c.admin.token, d.id, (s) => s === "ready");
    const h = `legacy-auth.${c.domain}`;
    expect((await c.get(h, "/")).status).toBe(401);
    expect((await c.get(h, "/", undefined, { headers: { authorization: `Basic ${btoa("dave:old-pass")}` } })).status).toBe(200);
  }, T);
});

describe("agent identity", () => {
  test("an agent's heartbeat tells strangers only that it is alive; its token or a master-signed one shows the rest", async () => {
    const n = c.nodes[0]!;
    const anon = await api(n.url, "GET", "/api/heartbeat");
    expect(anon.status).toBe(200);
    expect(Object.keys(anon.body).sort()).toEqual(["ok", "version"]);
    expect((await api(n.url, "GET", "/api/heartbeat", undefined, "spa_not-the-token")).body.system).toBeUndefined();
    expect((await api(n.url, "GET", "/api/heartbeat", undefined, c.nodes[1]!.token)).body.system).toBeUndefined();
    const own = await api(n.url, "GET", "/api/heartbeat", undefined, n.token);
    expect(own.body.system.disk_free).toBeGreaterThan(0);
    const signed = await masterSigned({ typ: "sprout-agent-status", agent_id: n.id });
    expect((await api(n.url, "GET", "/api/heartbeat", undefined, signed)).body.system.disk_free).toBeGreaterThan(0);
    const forOther = await masterSigned({ typ: "sprout-agent-status", agent_id: c.nodes[1]!.id });
    expect((await api(n.url, "GET", "/api/heartbeat", undefined, forOther)).body.system).toBeUndefined();
  }, T);

  // Last in the file: the agents it makes are never started (and never receive a site).
  test("an agent token cannot move the agent's URL: a changed URL is shown as url_mismatch until the admin accepts it", async () => {
    const created = await c.sprout(["agents", "create", "pinned", "--url", "http://127.0.0.1:9", "--json"]);
    expect(created.code).toBe(0);
    const pinned = JSON.parse(created.stdout);
    const fresh = (await api(c.master, "POST", "/api/agent", { name: "unpinned" }, c.admin.token)).body;
    const system = (await api(c.nodes[0]!.url, "GET", "/api/heartbeat", undefined, c.nodes[0]!.token)).body.system;
    const beat = (token: string, url: string) => api(c.master, "POST", "/api/agent/heartbeat", { version: "x", url, http_url: "http://127.0.0.1:10", system }, token);
    const agent = async (id: string) => (await api(c.master, "GET", `/api/agent/${id}`, undefined, c.admin.token)).body;

    // Set by the admin at creation: a heartbeat cannot change it.
    expect((await beat(pinned.token, "http://attacker.example:7070")).status).toBe(200);
    let a = await agent(pinned.id);
    expect(a.url).toBe("http://127.0.0.1:9");
    expect(a.url_mismatch).toBe(true);
    expect(a.reported_url).toBe("http://attacker.example:7070");
    // Unset: the first heartbeat pins it, a later different one does not move it.
    await beat(fresh.token, "http://127.0.0.1:11");
    await beat(fresh.token, "http://attacker.example:7070");
    a = await agent(fresh.id);
    expect(a.url).toBe("http://127.0.0.1:11");
    expect(a.url_mismatch).toBe(true);
    expect(c.masterProc.output()).toContain("not adopted");
    const list = JSON.parse((await c.sprout(["agents", "--json"])).stdout);
    expect(list.find((x: any) => x.name === "unpinned").url_mismatch).toBe(true);

    // Only the admin moves it; a tenant cannot.
    const mallory = await c.user("mallory2@example.com");
    expect((await api(c.master, "POST", `/api/agent/${fresh.id}/url`, { url: "http://attacker.example:7070" }, mallory)).status).toBe(403);
    const set = await c.sprout(["agents", "set-url", "unpinned", "http://attacker.example:7070"]);
    expect(set.code).toBe(0);
    a = await agent(fresh.id);
    expect(a.url).toBe("http://attacker.example:7070");
    expect(a.url_mismatch).toBe(false);
    for (const id of [pinned.id, fresh.id]) await api(c.master, "POST", `/api/agent/${id}/url`, { url: "http://127.0.0.1:9" }, c.admin.token);
  }, T);
});
