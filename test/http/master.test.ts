import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { openDb } from "../../src/db";
import { DEFAULT_MASTER_CONFIG, type MasterConfig } from "../../src/master/config";
import { createMaster } from "../../src/master/server";

type M = Awaited<ReturnType<typeof createMaster>>;
let m: M;

async function boot(config: Partial<MasterConfig> = {}) {
  m?.stop();
  m = await createMaster({ db: openDb(":memory:"), config: { ...DEFAULT_MASTER_CONFIG, ...config } });
  await m.services.auth.ensureAdmin("admin@example.com", "password one");
}
beforeEach(() => boot());
afterAll(() => m?.stop());

async function call(method: string, path: string, body?: unknown, token?: string) {
  const r = await m.app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { status: r.status, body: (await r.json().catch(() => null)) as any };
}

async function login(email = "admin@example.com", password = "password one") {
  if (email !== "admin@example.com") await m.services.auth.createUser(email, password);
  return (await call("POST", "/api/user/token", { email, password })).body as { access_token: string; refresh_token: string };
}

const system = { cpu_percent: 1, cpus: 2, load: [0, 0, 0], mem_total: 1e9, mem_free: 5e8, disk_total: 1e11, disk_free: 5e10, nginx: "running", nginx_reloads: 0, uptime: 1, sites: 0 };
async function agent(admin: string, name = "n1") {
  const a = (await call("POST", "/api/agent", { name }, admin)).body;
  await call("POST", "/api/agent/heartbeat", { version: "test", url: `http://${name}:7070`, http_url: `http://${name}:8080`, system }, a.token);
  return a as { id: string; token: string };
}
const manifest = [{ path: "index.html", sha256: "b".repeat(64), size: 10 }];

describe("accounts", () => {
  test("the admin is made at start, once; registration is closed by default and open makes ordinary users", async () => {
    expect((await m.services.auth.ensureAdmin("other@example.com", "password one")).created).toBe(false);
    const closed = await call("POST", "/api/user", { email: "a@example.com", password: "password one" });
    expect(closed.status).toBe(403);
    expect(closed.body.error.message).toContain("Registration is closed");
    await boot({ registration: "open" });
    expect((await call("POST", "/api/user", { email: "a@example.com", password: "password one" })).status).toBe(201);
    const me = await call("POST", "/api/user/token", { email: "a@example.com", password: "password one" });
    expect((await call("GET", "/api/user/info", undefined, me.body.access_token)).body.is_admin).toBe(false);
  });

  test("passwords are stored as argon2id, never in plain text", async () => {
    await login();
    const row = m.services.db.$client.query("SELECT password_hash FROM users").get() as { password_hash: string };
    expect(row.password_hash.startsWith("$argon2id$")).toBe(true);
    const tokens = m.services.db.$client.query("SELECT token_hash FROM refresh_tokens").all() as { token_hash: string }[];
    expect(tokens.every((t) => /^[a-f0-9]{64}$/.test(t.token_hash))).toBe(true);
  });

  test("an expired access token answers 401 token_expired with a hint to log in", async () => {
    const t = await login();
    const me = (await call("GET", "/api/user/info", undefined, t.access_token)).body;
    const expired = await m.services.auth.signAccess(me.id, "nosession", 60, Math.floor(Date.now() / 1000) - 3600);
    const r = await call("GET", "/api/user/info", undefined, expired);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("token_expired");
    expect(r.body.error.hint).toContain("sprout login");
  });

  test("changing the password needs the old one and revokes every refresh token", async () => {
    const t = await login();
    expect((await call("POST", "/api/user/password", { old_password: "wrong one", new_password: "password two" }, t.access_token)).status).toBe(403);
    expect((await call("POST", "/api/user/password", { old_password: "password one", new_password: "password two" }, t.access_token)).status).toBe(200);
    expect((await call("POST", "/api/token/refresh", { refresh_token: t.refresh_token })).status).toBe(401);
    expect((await call("POST", "/api/user/token", { email: "admin@example.com", password: "password one" })).status).toBe(401);
    expect((await call("POST", "/api/user/token", { email: "admin@example.com", password: "password two" })).status).toBe(200);
  });

  test("API tokens work as bearer tokens until revoked, and are listed without their secret", async () => {
    const t = await login();
    const created = (await call("POST", "/api/tokens", { name: "ci" }, t.access_token)).body;
    expect(created.token.startsWith("spt_")).toBe(true);
    expect((await call("GET", "/api/user/info", undefined, created.token)).status).toBe(200);
    const list = (await call("GET", "/api/tokens", undefined, t.access_token)).body;
    expect(list[0].name).toBe("ci");
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect((await call("DELETE", `/api/tokens/${created.id}`, undefined, t.access_token)).status).toBe(200);
    expect((await call("GET", "/api/user/info", undefined, created.token)).status).toBe(401);
  });
});

describe("agents and tasks", () => {
  test("only the admin registers agents; a rotated agent token replaces the old one", async () => {
    const admin = await login();
    const user = await login("u@example.com");
    expect((await call("POST", "/api/agent", { name: "x" }, user.access_token)).status).toBe(403);
    const a = await agent(admin.access_token);
    const rotated = (await call("POST", `/api/${a.id}/token`, undefined, admin.access_token)).body;
    expect((await call("POST", "/api/agent/heartbeat", { version: "t", url: "http://n1:7070", http_url: "http://n1:8080", system }, a.token)).status).toBe(401);
    expect((await call("POST", "/api/agent/heartbeat", { version: "t", url: "http://n1:7070", http_url: "http://n1:8080", system }, rotated.token)).status).toBe(200);
  });

  test("a waiting long poll answers as soon as a task is queued", async () => {
    const admin = await login();
    const a = await agent(admin.access_token);
    const t0 = performance.now();
    const poll = call("GET", "/api/agent/tasks?wait=20", undefined, a.token);
    await Bun.sleep(50);
    m.services.tasks.enqueue(a.id, { kind: "gc" });
    const r = await poll;
    expect(r.body).toHaveLength(1);
    expect(r.body[0].task.kind).toBe("gc");
    expect(performance.now() - t0).toBeLessThan(5000);
    // Not acknowledged: it is not sent again before its lease ends.
    expect((await call("GET", "/api/agent/tasks?wait=0", undefined, a.token)).body).toHaveLength(0);
    expect((await call("POST", `/api/agent/tasks/${r.body[0].id}/result`, { ok: true }, a.token)).status).toBe(200);
  });
});

describe("deployments", () => {
  test("without an online agent, creating a deployment answers 503 with a hint", async () => {
    const t = await login();
    const r = await call("POST", "/api/deployment", { site: "blog", manifest }, t.access_token);
    expect(r.status).toBe(503);
    expect(r.body.error.hint).toContain("sprout agent");
  });

  test("preview: staged on every replica -> ready, production unchanged", async () => {
    const t = await login();
    const a = await agent(t.access_token);
    const d = (await call("POST", "/api/deployment", { site: "blog", manifest }, t.access_token)).body;
    expect(d.upload.agent_url).toBe("http://n1:7070");
    expect(d.deployment.preview_url).toBe(`http://${d.deployment.id}--blog.localhost:8080`);
    await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "staged", message: "staged" }, a.token);
    const got = (await call("GET", `/api/deployment/${d.deployment.id}`, undefined, t.access_token)).body;
    expect(got.status).toBe("ready");
    expect(got.is_production).toBe(false);
    expect(got.events.map((e: any) => e.message)).toContain("Preview ready.");
    expect((await call("GET", "/api/site/blog", undefined, t.access_token)).body.production_deployment_id).toBeNull();
  });

  test("production: staged -> activate task on every replica -> active -> production moves; an agent without the replica is refused", async () => {
    const t = await login();
    const a = await agent(t.access_token, "n1");
    const b = await agent(t.access_token, "n2");
    const d = (await call("POST", "/api/deployment", { site: "blog", production: true, manifest }, t.access_token)).body;
    const [primary, other] = d.upload.agent_id === a.id ? [a, b] : [b, a];
    await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "staged", message: "staged" }, primary.token);
    const queued = (await call("GET", "/api/agent/tasks?wait=0", undefined, other.token)).body.map((x: any) => x.task);
    expect(queued.find((t: any) => t.kind === "stage")).toMatchObject({ deployment_id: d.deployment.id, peers: [`http://${primary === a ? "n1" : "n2"}:7070`] });
    expect(queued.find((t: any) => t.kind === "sync_site")).toMatchObject({ site: "blog", settings: { spa: false } });
    await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "staged", message: "staged" }, other.token);
    for (const x of [a, b]) {
      const tasks = (await call("GET", "/api/agent/tasks?wait=0", undefined, x.token)).body;
      expect(tasks.map((y: any) => y.task.kind)).toContain("activate");
      await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "active", message: "active" }, x.token);
    }
    const site = (await call("GET", "/api/site/blog", undefined, t.access_token)).body;
    expect(site.production_deployment_id).toBe(d.deployment.id);
    const c = (await call("POST", "/api/agent", { name: "n3" }, t.access_token)).body;
    const refused = await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "failed", message: "x" }, c.token);
    expect(refused.status).toBe(403);
    expect((await call("GET", `/api/deployment/${d.deployment.id}`, undefined, t.access_token)).body.status).toBe("ready");
  });

  test("a failed report fails the deployment with its reason; rollback with no earlier production answers 409", async () => {
    const t = await login();
    const a = await agent(t.access_token);
    const d = (await call("POST", "/api/deployment", { site: "blog", production: true, manifest }, t.access_token)).body;
    await call("POST", "/api/deployment/status", { deployment_id: d.deployment.id, phase: "failed", message: "disk full" }, a.token);
    const got = (await call("GET", `/api/deployment/${d.deployment.id}`, undefined, t.access_token)).body;
    expect(got.status).toBe("failed");
    expect(got.error).toBe("disk full");
    expect((await call("POST", "/api/site/blog/promote", { deployment_id: d.deployment.id }, t.access_token)).status).toBe(409);
    expect((await call("POST", "/api/site/blog/rollback", {}, t.access_token)).status).toBe(409);
  });
});
