import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, importJWK, generateKeyPair } from "jose";
import { api, cleanup, cluster, site, type Cluster } from "../helpers/cluster";
import { makeTar, sha256, type TarEntry } from "../helpers/tar";

// The agent here accepts files up to 4 KiB so the limit is easy to cross.
let c: Cluster;
const content = "<h1>safe</h1>";

beforeAll(async () => {
  c = await cluster({ agentArgs: ["--max-file-size", "4096"] });
  const r = await c.sprout(["deploy", site({ "index.html": content }), "--site", "victim", "--prod", "--json"]);
  if (r.code !== 0) throw new Error(r.stderr + c.logs());
});
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

/** blobs lists every file in the agent's blob store and temp folder. */
const stored = () => {
  const root = join(c.nodes[0]!.data);
  const list = (d: string) => readdirSync(join(root, d), { recursive: true }).map(String).sort();
  return { blobs: list("blobs"), tmp: list("tmp") };
};

/** stillServing checks that the site serves its previous deployment, byte-exact. */
const stillServing = async () => {
  const r = await c.get(`victim.${c.domain}`, "/");
  expect(r.status).toBe(200);
  expect(await r.text()).toBe(content);
};

/** start creates a deployment of `manifest` and passes init; answers what the upload needs. */
async function startUpload(manifest: { path: string; sha256: string; size: number }[]) {
  const created = await api(c.master, "POST", "/api/deployment", { site: "victim", production: false, manifest }, c.admin.token);
  expect(created.status).toBe(201);
  const { grant, agent_url } = created.body.upload;
  const id = created.body.deployment.id;
  const init = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: id, manifest });
  expect(init.status).toBe(200);
  return { id, grant, agent: agent_url as string, token: init.body.upload_token as string };
}

const upload = (agent: string, token: string, id: string, body: Uint8Array): Promise<Response> =>
  fetch(`${agent}/api/upload/file`, { method: "POST", headers: { "content-type": "application/x-tar", "x-upload-token": token, "x-deployment-id": id }, body: body as unknown as BodyInit });

describe("a bad archive is refused with a clear error and leaves nothing behind", () => {
  const file = "fresh content\n";
  const entry = { path: "new.txt", sha256: sha256(file), size: file.length };
  const cases: [string, TarEntry[], number, string][] = [
    ["a path with ..", [{ header: { name: "../new.txt" }, body: file }], 400, "bad_archive"],
    ["an absolute path", [{ header: { name: "/etc/new.txt" }, body: file }], 400, "bad_archive"],
    ["a backslash", [{ header: { name: "a\\new.txt" }, body: file }], 400, "bad_archive"],
    ["a NUL byte", [{ header: { name: "new\u0001.txt" }, body: file }], 400, "bad_archive"],
    ["a symlink", [{ header: { name: "new.txt", type: "symlink", linkname: "/etc/passwd", size: 0 } }], 400, "bad_archive"],
    ["a hard link", [{ header: { name: "new.txt", type: "link", linkname: "index.html", size: 0 } }], 400, "bad_archive"],
    ["a device", [{ header: { name: "new.txt", type: "character-device", devmajor: 1, devminor: 3, size: 0 } }], 400, "bad_archive"],
    ["bytes that do not match the digest", [{ header: { name: "new.txt" }, body: "FRESH CONTENT\n" }], 400, "digest_mismatch"],
    ["a size that differs from the manifest", [{ header: { name: "new.txt" }, body: file + "x" }], 400, "size_mismatch"],
    ["a file not in the manifest", [{ header: { name: "other.txt" }, body: file }], 400, "not_in_manifest"],
    ["garbage instead of a tar", [], 400, "bad_archive"],
  ];
  for (const [name, entries, status, code] of cases) {
    test(name, async () => {
      const before = stored();
      const u = await startUpload([entry]);
      const body = entries.length ? await makeTar(entries) : new TextEncoder().encode("this is not a tar archive at all".repeat(40));
      // A good file first, so "nothing behind" also covers what the request verified before the bad entry.
      const r = await upload(u.agent, u.token, u.id, body);
      expect(r.status).toBe(status);
      expect((await r.json()).error.code).toBe(code);
      expect(stored()).toEqual(before);
      await stillServing();
    });
  }

  test("a good file followed by a bad entry: the good one is not kept either", async () => {
    const before = stored();
    const other = "another fresh file\n";
    const u = await startUpload([entry, { path: "b.txt", sha256: sha256(other), size: other.length }]);
    const r = await upload(u.agent, u.token, u.id, await makeTar([{ header: { name: "new.txt" }, body: file }, { header: { name: "b.txt", type: "symlink", linkname: "/", size: 0 } }]));
    expect(r.status).toBe(400);
    expect(stored()).toEqual(before);
    await stillServing();
  });
});

describe("limits", () => {
  test("a file over the node's size limit is refused at init", async () => {
    const big = "x".repeat(5000);
    const created = await api(c.master, "POST", "/api/deployment", { site: "victim", manifest: [{ path: "big.txt", sha256: sha256(big), size: big.length }] }, c.admin.token);
    const init = await api(created.body.upload.agent_url, "POST", "/api/upload/init", { grant: created.body.upload.grant, deployment_id: created.body.deployment.id, manifest: [{ path: "big.txt", sha256: sha256(big), size: big.length }] });
    expect(init.status).toBe(400);
    expect(init.body.error.code).toBe("bad_manifest");
    expect(init.body.error.message).toContain("over the per-file limit");
    await stillServing();
  });

  test("a manifest over the master's limits or with bad paths is refused and creates no deployment", async () => {
    const before = (await api(c.master, "GET", "/api/site/victim/deployments", undefined, c.admin.token)).body.length;
    for (const path of ["../x", "/abs", "a\\b", "a\u0000b", "a//b"]) {
      const r = await api(c.master, "POST", "/api/deployment", { site: "victim", manifest: [{ path, sha256: sha256("x"), size: 1 }] }, c.admin.token);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("bad_manifest");
    }
    const huge = await api(c.master, "POST", "/api/deployment", { site: "victim", manifest: [{ path: "a", sha256: sha256("x"), size: 10 * 1024 ** 3 }] }, c.admin.token);
    expect(huge.status).toBe(400);
    expect((await api(c.master, "GET", "/api/site/victim/deployments", undefined, c.admin.token)).body.length).toBe(before);
  });
});

describe("grants and upload tokens", () => {
  const f = "grant test\n";
  const m = [{ path: "g.txt", sha256: sha256(f), size: f.length }];

  test("an upload token for another deployment is refused", async () => {
    const a = await startUpload(m);
    const b = await startUpload(m);
    const r = await upload(a.agent, a.token, b.id, await makeTar([{ header: { name: "g.txt" }, body: f }]));
    expect(r.status).toBe(403);
    await stillServing();
  });

  test("a forged upload token and a forged grant are refused", async () => {
    const a = await startUpload(m);
    const forgedToken = a.token.slice(0, -4) + (a.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const r = await upload(a.agent, forgedToken, a.id, await makeTar([{ header: { name: "g.txt" }, body: f }]));
    expect(r.status).toBe(401);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const agentId = c.nodes[0]!.id;
    const forged = await new SignJWT({ site: "victim", deployment_id: a.id, agent_id: agentId, manifest_digest: "0".repeat(64), typ: "sprout-upload-grant" }).setProtectedHeader({ alg: "EdDSA" }).setExpirationTime("5m").sign(privateKey);
    const init = await api(a.agent, "POST", "/api/upload/init", { grant: forged, deployment_id: a.id, manifest: m });
    expect(init.status).toBe(401);
    expect(init.body.error.code).toBe("invalid_token");
  });

  test("an expired upload token is refused", async () => {
    const a = await startUpload(m);
    // Signed with the agent's real upload secret (from its state file), expired a minute ago.
    const state = JSON.parse(await Bun.file(join(c.nodes[0]!.data, "state.json")).text());
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ site: "victim", deployment_id: a.id, manifest_digest: "0".repeat(64), typ: "sprout-upload-token" })
      .setProtectedHeader({ alg: "HS256" }).setIssuedAt(now - 3600).setExpirationTime(now - 60).sign(new TextEncoder().encode(state.uploadSecret));
    const r = await upload(a.agent, token, a.id, await makeTar([{ header: { name: "g.txt" }, body: f }]));
    expect(r.status).toBe(401);
    expect((await r.json()).error.code).toBe("expired");
    await stillServing();
  });

  test("an expired grant is refused", async () => {
    const a = await startUpload(m);
    // Sign with the master's real key, read from its database, but with an expiry in the past.
    const db = new Database(join(c.home, "master", "sprout.db"), { readonly: true });
    const keys = JSON.parse((db.query("SELECT value FROM kv WHERE key = 'grant_keys'").get() as { value: string }).value);
    db.close();
    const key = await importJWK(JSON.parse(keys.privateJwk), "EdDSA");
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ site: "victim", deployment_id: a.id, agent_id: c.nodes[0]!.id, manifest_digest: "0".repeat(64), typ: "sprout-upload-grant" }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt(now - 3600).setExpirationTime(now - 60).sign(key);
    const init = await api(a.agent, "POST", "/api/upload/init", { grant: expired, deployment_id: a.id, manifest: m });
    expect(init.status).toBe(401);
    expect(init.body.error.code).toBe("expired");
  });

  test("a grant is refused for another deployment id or a swapped manifest", async () => {
    const a = await startUpload(m);
    const b = await startUpload(m);
    expect((await api(a.agent, "POST", "/api/upload/init", { grant: a.grant, deployment_id: b.id, manifest: m })).status).toBe(403);
    const swapped = [{ path: "evil.html", sha256: sha256("evil"), size: 4 }];
    const r = await api(a.agent, "POST", "/api/upload/init", { grant: a.grant, deployment_id: a.id, manifest: swapped });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("manifest_mismatch");
  });

  test("a grant reused after its deployment finished is refused", async () => {
    const a = await startUpload(m);
    const ok = await upload(a.agent, a.token, a.id, await makeTar([{ header: { name: "g.txt" }, body: f }]));
    expect(ok.status).toBe(200);
    expect((await ok.json()).staged).toBe(true);
    const again = await api(a.agent, "POST", "/api/upload/init", { grant: a.grant, deployment_id: a.id, manifest: m });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("deployment_finished");
    const reupload = await upload(a.agent, a.token, a.id, await makeTar([{ header: { name: "g.txt" }, body: f }]));
    expect(reupload.status).toBe(409);
  });
});

describe("accounts and ownership", () => {
  test("another user's site, deployments and rollback answer 404 and change nothing", async () => {
    const mallory = await c.user("mallory@example.com");
    const deps = (await api(c.master, "GET", "/api/site/victim/deployments", undefined, c.admin.token)).body;
    expect((await api(c.master, "GET", "/api/site/victim", undefined, mallory)).status).toBe(404);
    expect((await api(c.master, "GET", "/api/site/victim/deployments", undefined, mallory)).status).toBe(404);
    expect((await api(c.master, "GET", `/api/deployment/${deps[0].id}`, undefined, mallory)).status).toBe(404);
    expect((await api(c.master, "POST", "/api/site/victim/rollback", {}, mallory)).status).toBe(404);
    expect((await api(c.master, "DELETE", "/api/site/victim", undefined, mallory)).status).toBe(404);
    const taken = await api(c.master, "POST", "/api/deployment", { site: "victim", manifest: [{ path: "a", sha256: sha256("a"), size: 1 }] }, mallory);
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe("site_taken");
    const token = await api(c.master, "POST", "/api/tokens", { name: "ci" }, c.admin.token);
    expect((await api(c.master, "DELETE", `/api/tokens/${token.body.id}`, undefined, mallory)).status).toBe(404);
    expect((await api(c.master, "GET", "/api/user/info", undefined, token.body.token)).body.email).toBe(c.admin.email);
    await stillServing();
  });

  test("tokens of the wrong kind, forged or garbled JWTs and a reused refresh token are refused", async () => {
    const agentToken = c.nodes[0]!.token;
    const asUser = await api(c.master, "GET", "/api/sites", undefined, agentToken);
    expect(asUser.status).toBe(401);
    expect(asUser.body.error.code).toBe("wrong_token_kind");
    const asAgent = await api(c.master, "POST", "/api/deployment/status", { deployment_id: "abcdefabcdef", phase: "log", message: "x" }, c.admin.token);
    expect(asAgent.status).toBe(401);
    expect(asAgent.body.error.code).toBe("wrong_token_kind");
    const [h, p] = c.admin.token.split(".");
    expect((await api(c.master, "GET", "/api/sites", undefined, `${h}.${p}.forgedsignature`)).status).toBe(401);
    expect((await api(c.master, "GET", "/api/sites", undefined, "garbage")).status).toBe(401);
    expect((await api(c.master, "GET", "/api/sites")).status).toBe(401);
    const login = await api(c.master, "POST", "/api/user/token", { email: c.admin.email, password: c.admin.password });
    const rotated = await api(c.master, "POST", "/api/token/refresh", { refresh_token: login.body.refresh_token });
    expect(rotated.status).toBe(200);
    const reused = await api(c.master, "POST", "/api/token/refresh", { refresh_token: login.body.refresh_token });
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe("token_reused");
    // The whole family is revoked: the successor no longer works either.
    expect((await api(c.master, "POST", "/api/token/refresh", { refresh_token: rotated.body.refresh_token })).status).toBe(401);
  });

  test("malformed JSON and wrong types answer 400 on every route, never 500", async () => {
    const routes: [string, string][] = [
      ["POST", "/api/user"], ["POST", "/api/user/token"], ["POST", "/api/user/password"], ["POST", "/api/token/refresh"],
      ["POST", "/api/site"], ["DELETE", "/api/site"], ["PATCH", "/api/site/victim"], ["POST", "/api/deployment"],
      ["POST", "/api/site/victim/promote"], ["POST", "/api/site/victim/rollback"], ["POST", "/api/agent"], ["POST", "/api/tokens"],
    ];
    for (const [method, path] of routes) {
      for (const body of ["{not json", JSON.stringify({ email: 1, password: [], name: {}, site: 5, manifest: "x", spa: "yes", deployment_id: 7, refresh_token: 1, old_password: 2 })]) {
        const r = await fetch(`${c.master}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${c.admin.token}` }, body });
        expect(`${method} ${path} ${r.status}`).toBe(`${method} ${path} 400`);
        expect((await r.json()).error.code).toMatch(/^(malformed_json|invalid_request)$/);
      }
    }
    const agentRoutes: [string, string][] = [["POST", "/api/upload/init"]];
    for (const [method, path] of agentRoutes) {
      const r = await fetch(`${c.nodes[0]!.url}${path}`, { method, headers: { "content-type": "application/json" }, body: "{nope" });
      expect(r.status).toBe(400);
    }
    await stillServing();
  });

  test("login is rate-limited", async () => {
    let last = 0;
    for (let i = 0; i < 7; i++) last = (await api(c.master, "POST", "/api/user/token", { email: "mallory@example.com", password: "wrong password" })).status;
    expect(last).toBe(429);
  });
});
