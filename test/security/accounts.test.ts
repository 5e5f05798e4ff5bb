// Accounts and auth of the master, attacked as an anonymous visitor, a tenant and a leaked token would:
// each test reproduces one finding of the security review against the compiled binary over real HTTP.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { LoginThrottle, networkOf } from "../../src/master/services/login-throttle";
import { api, freePort, killNginx, start, tempDir, useCluster, type Proc } from "../helpers/cluster";

// Each test starts processes and hashes passwords on a machine shared with others: time is generous.
setDefaultTimeout(90_000);

// The cluster's master believes X-Forwarded-* from 127.0.0.1 only: tests play clients at many
// addresses through it, as a reverse proxy in front of the master would.
const c = useCluster({ masterArgs: ["--trusted-proxy", "127.0.0.1"] });

/** bareMaster starts a master of its own (no agent) and answers its URL, process and data folder. */
async function bareMaster(args: string[] = [], env: Record<string, string> = {}): Promise<{ url: string; p: Proc; data: string }> {
  const data = join(tempDir(), "master");
  const { p, match } = await start("bare master", ["master", "--listen", "127.0.0.1:0", "--data", data, ...args], env, /sprout master listening on (http:\/\/\S+)/);
  return { url: match[1]!, p, data };
}

const login = (base: string, email: string, password: string, from?: string) =>
  fetch(`${base}/api/user/token`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(from ? { "x-forwarded-for": from } : {}) },
    body: JSON.stringify({ email, password }),
  });

/** rssKb reads a process's resident memory from /proc. */
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

/**
 * rawPost sends a request head and then `bodyBytes` of body (or chunked, without Content-Length) on a
 * plain socket, and answers the status line the server sent, whenever it sent it, and how many body
 * bytes had gone out by then. The server may close the connection early: that is the point.
 */
function rawPost(base: string, path: string, bodyBytes: number, chunked: boolean): Promise<{ status: number; body: string; sent: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.hostname, port: Number(u.port) });
    let answer = "";
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (!m) return;
      const body = answer.split("\r\n\r\n").slice(1).join("\r\n\r\n");
      if (!body.includes("}")) return;
      done = true;
      sock.destroy();
      resolve({ status: Number(m[1]), body, sent });
    };
    sock.on("data", (d) => {
      answer += d.toString("latin1");
      finish();
    });
    // A server that answers early and closes makes our writes fail: what it answered is in `answer`.
    sock.on("error", () => {});
    sock.on("close", () => {
      if (done) return;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (!m) return reject(new Error(`closed without an answer: ${answer}`));
      done = true;
      resolve({ status: Number(m[1]), body: answer.split("\r\n\r\n").slice(1).join("\r\n\r\n"), sent });
    });
    sock.on("connect", async () => {
      sock.write(
        `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n` +
          (chunked ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${bodyBytes}\r\n`) +
          "\r\n",
      );
      const chunk = Buffer.alloc(1024 * 1024, "a");
      chunk.write('{"email":"a@example.com","password":"');
      while (sent < bodyBytes && !done && !sock.destroyed) {
        const piece = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent));
        const ok = sock.write(chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece);
        sent += piece.length;
        if (!ok) await new Promise((r) => sock.once("drain", r).once("close", r));
      }
      if (chunked && !done && !sock.destroyed) sock.write("0\r\n\r\n");
    });
  });
}

describe("registration and the first admin", () => {
  test("concurrent registrations on a fresh master make no admin, with registration open or closed", async () => {
    const open = await bareMaster(["--registration", "open"]);
    const emails = Array.from({ length: 8 }, (_, i) => `racer${i}@example.com`);
    const answers = await Promise.all(emails.map((email) => api(open.url, "POST", "/api/user", { email, password: "racing password" })));
    expect(answers.map((a) => a.status)).toEqual(emails.map(() => 201));
    for (const email of emails) {
      const token = (await login(open.url, email, "racing password").then((r) => r.json())).access_token;
      expect((await api(open.url, "GET", "/api/user/info", undefined, token)).body.is_admin).toBe(false);
      expect((await api(open.url, "GET", "/api/agents", undefined, token)).status).toBe(403);
    }
    const closed = await bareMaster(["--registration", "closed"]);
    const refused = await Promise.all(emails.map((email) => api(closed.url, "POST", "/api/user", { email, password: "racing password" })));
    expect(refused.map((a) => a.status)).toEqual(emails.map(() => 403));
    expect((await login(closed.url, emails[0]!, "racing password")).status).toBe(401);
  });

  test("registration is closed by default: a stranger cannot create an account", async () => {
    const r = await api(c().master, "POST", "/api/user", { email: "stranger@example.com", password: "let me in please" });
    expect(r.status).toBe(403);
    expect(r.body.error.hint).toContain("sprout users invite");
    expect((await login(c().master, "stranger@example.com", "let me in please")).status).toBe(401);
  });

  test("--admin-email makes exactly one admin at start, printing a generated password once and never again", async () => {
    const m = await bareMaster(["--admin-email", "Boss@Example.com"]);
    const printed = /Password \(shown once, not stored\): (\S+)/.exec(m.p.output());
    expect(printed).not.toBeNull();
    const token = (await login(m.url, "boss@example.com", printed![1]!).then((r) => r.json())).access_token;
    expect((await api(m.url, "GET", "/api/user/info", undefined, token)).body.is_admin).toBe(true);
    // The password is not in the database folder in plain text.
    for (const f of readdirSync(m.data)) expect(readFileSync(join(m.data, f)).includes(printed![1]!)).toBe(false);
    await m.p.kill();
    // A restart with another admin email neither prints a password nor makes a second admin.
    const { p, match } = await start("restarted master", ["master", "--listen", "127.0.0.1:0", "--data", m.data, "--admin-email", "other@example.com"], {}, /sprout master listening on (http:\/\/\S+)/);
    expect(p.output()).not.toContain("Password");
    expect((await api(match[1]!, "GET", "/api/users", undefined, token)).body.filter((u: any) => u.is_admin).map((u: any) => u.email)).toEqual(["boss@example.com"]);
    expect((await login(match[1]!, "other@example.com", printed![1]!)).status).toBe(401);
  });

  test("the admin invites users, with a password shown once, and only the admin may", async () => {
    const r = await api(c().master, "POST", "/api/users", { email: "invitee@example.com" }, c().admin.token);
    expect(r.status).toBe(201);
    expect(r.body.is_admin).toBe(false);
    expect(typeof r.body.password).toBe("string");
    const invitee = (await login(c().master, "invitee@example.com", r.body.password).then((x) => x.json())).access_token;
    expect((await api(c().master, "POST", "/api/users", { email: "friend@example.com" }, invitee)).status).toBe(403);
    expect((await api(c().master, "GET", "/api/users", undefined, invitee)).status).toBe(403);
    expect((await api(c().master, "GET", "/api/users", undefined, c().admin.token)).body.map((u: any) => u.email)).toContain("invitee@example.com");
    const cli = await c().sprout(["users", "invite", "cli-invitee@example.com"]);
    expect(cli.code).toBe(0);
    const pw = /Password \(shown once\): (\S+)/.exec(cli.stdout)![1]!;
    expect((await login(c().master, "cli-invitee@example.com", pw)).status).toBe(200);
    expect((await c().sprout(["users"])).stdout).toContain("cli-invitee@example.com");
  });

  test("open registration answers the same for a new email and one that has an account", async () => {
    const m = await bareMaster(["--registration", "open"]);
    const fresh = await api(m.url, "POST", "/api/user", { email: "new@example.com", password: "first password" });
    const again = await api(m.url, "POST", "/api/user", { email: "new@example.com", password: "other password" });
    expect(again.status).toBe(fresh.status);
    expect(again.body).toEqual(fresh.body);
    // The existing account keeps its password: the second registration changed nothing.
    expect((await login(m.url, "new@example.com", "first password")).status).toBe(200);
    expect((await login(m.url, "new@example.com", "other password")).status).toBe(401);
  });
});

describe("login throttling", () => {
  test("the owner logs in from their address despite an attacker's failures from others", async () => {
    await c().user("owner@example.com");
    // One attacker address: refused after a few failures, with a growing wait.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login(c().master, "owner@example.com", `wrong guess ${i}`, "203.0.113.5")).status);
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // While it waits, that address is refused before any password check, the right one included.
    const refused = await login(c().master, "owner@example.com", "another password", "203.0.113.5");
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.message).toContain("Try again in");
    // Rotating addresses: each new address gets a few tries, and every try on the account is slowed.
    for (let i = 0; i < 8; i++) await login(c().master, "owner@example.com", "wrong guess", `198.51.100.${i + 1}`);
    // The owner, from their own address, gets in (after the per-account delay).
    const owner = await login(c().master, "owner@example.com", "another password", "192.0.2.44");
    expect(owner.status).toBe(200);
    expect((await owner.json()).access_token).toBeString();
  }, 60_000);

  test("guesses sent all at once are throttled as if sent one after another", async () => {
    // Failures were counted only once each password check ended: 40 guesses sent together from one
    // address all passed the throttle before the first was counted (40 checks instead of 4).
    await c().user("burst@example.com");
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => login(c().master, "burst@example.com", `wrong guess ${i}`, "203.0.113.77").then((r) => r.status)));
    expect(statuses.filter((x) => x === 401).length).toBeLessThanOrEqual(4);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(36);
    // The owner, from another address, still gets in.
    expect((await login(c().master, "burst@example.com", "another password", "192.0.2.45")).status).toBe(200);
  }, 60_000);

  test("an IPv6 network is one address to the throttle: rotating within a /64 gains no tries", async () => {
    await c().user("v6@example.com");
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login(c().master, "v6@example.com", `wrong guess ${i}`, `2001:db8:5:7::${(i + 1).toString(16)}`)).status);
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // Another network is not held back by that one.
    expect((await login(c().master, "v6@example.com", "another password", "2001:db8:6::1")).status).toBe(200);
    expect(networkOf("2001:0db8:0005:0007:1:2:3:4")).toBe(networkOf("2001:db8:5:7::9"));
    expect(networkOf("2001:db8:5:8::1")).not.toBe(networkOf("2001:db8:5:7::1"));
    expect(networkOf("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(networkOf("192.0.2.1")).toBe("192.0.2.1");
  }, 60_000);

  test("the throttle's memory is bounded however many addresses fail", () => {
    const t = new LoginThrottle(1000);
    for (let i = 0; i < 5000; i++) t.failed(`user${i}@example.com`, `10.0.${i >> 8}.${i & 255}`);
    expect(t.size).toBeLessThanOrEqual(1000);
  });
});

describe("request bodies", () => {
  test("a 66 MB body to /api/user/token answers 413 before it is read, and the master stays small", async () => {
    const pid = c().masterProc.proc.pid;
    const before = rssKb(pid);
    const declared = await rawPost(c().master, "/api/user/token", 66 * 1024 * 1024, false);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.code).toBe("body_too_large");
    const streamed = await rawPost(c().master, "/api/user/token", 66 * 1024 * 1024, true);
    expect(streamed.status).toBe(413);
    expect(rssKb(pid) - before).toBeLessThan(100 * 1024);
    expect(rssKb(pid)).toBeLessThan(400 * 1024);
    expect((await fetch(`${c().master}/api/health`)).status).toBe(200);
  }, 120_000);

  test("a deployment's manifest may be large, but not unbounded", async () => {
    // 4 MB is over the auth routes' limit and under the deployment route's: validation, not size, answers.
    const big = JSON.stringify({ site: "big", manifest: "x".repeat(4 * 1024 * 1024) });
    const r = await fetch(`${c().master}/api/deployment`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${c().admin.token}` }, body: big });
    expect(r.status).toBe(400);
    expect((await api(c().master, "POST", "/api/user/token", big)).status).toBe(413);
    const huge = await rawPost(c().master, "/api/deployment", 40 * 1024 * 1024, false);
    expect(huge.status).toBe(413);
  }, 60_000);
});

describe("secrets at rest", () => {
  test("the master's folder is 0700 and its database, WAL and SHM files 0600", async () => {
    const data = join(c().home, "master");
    // A write, so the WAL holds something.
    await api(c().master, "POST", "/api/tokens", { name: "at-rest" }, c().admin.token);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    const files = readdirSync(data);
    expect(files).toEqual(expect.arrayContaining(["sprout.db", "sprout.db-wal", "sprout.db-shm"]));
    for (const f of files) expect(`${f} ${(statSync(join(data, f)).mode & 0o777).toString(8)}`).toBe(`${f} 600`);
  });
});

describe("sessions and API tokens", () => {
  test("logout, a reused refresh token and a password change end access tokens at once", async () => {
    await c().user("sessions@example.com");
    const pair = async () => (await login(c().master, "sessions@example.com", "another password").then((r) => r.json())) as { access_token: string; refresh_token: string };
    const info = (token: string) => api(c().master, "GET", "/api/user/info", undefined, token);

    const a = await pair();
    expect((await info(a.access_token)).status).toBe(200);
    await api(c().master, "POST", "/api/token/revoke", { refresh_token: a.refresh_token });
    const ended = await info(a.access_token);
    expect(ended.status).toBe(401);
    expect(ended.body.error.code).toBe("session_ended");

    const b = await pair();
    const rotated = (await api(c().master, "POST", "/api/token/refresh", { refresh_token: b.refresh_token })).body;
    expect((await info(rotated.access_token)).status).toBe(200);
    // A stolen refresh token used again revokes the family: the thief's and the owner's access end.
    await api(c().master, "POST", "/api/token/refresh", { refresh_token: b.refresh_token });
    expect((await info(rotated.access_token)).status).toBe(401);

    const other = await pair();
    const mine = await pair();
    const token = (await api(c().master, "POST", "/api/tokens", { name: "ci" }, mine.access_token)).body.token;
    expect((await info(token)).status).toBe(200);
    expect((await api(c().master, "POST", "/api/user/password", { old_password: "another password", new_password: "a brand new password" }, mine.access_token)).status).toBe(200);
    expect((await info(other.access_token)).status).toBe(401);
    expect((await info(mine.access_token)).status).toBe(401);
    expect((await info(token)).status).toBe(401);
  });

  test("an API token cannot mint tokens, change the password or act as admin unless scoped so", async () => {
    const deploy = (await api(c().master, "POST", "/api/tokens", { name: "ci" }, c().admin.token)).body;
    expect(deploy.scope).toBe("deploy");
    const minted = await api(c().master, "POST", "/api/tokens", { name: "more" }, deploy.token);
    expect(minted.status).toBe(403);
    expect((await api(c().master, "POST", "/api/user/password", { old_password: c().admin.password, new_password: "hijacked password" }, deploy.token)).status).toBe(403);
    expect((await api(c().master, "POST", "/api/agent", { name: "rogue" }, deploy.token)).status).toBe(403);
    expect((await api(c().master, "POST", "/api/users", { email: "sneak@example.com" }, deploy.token)).status).toBe(403);
    // Other spellings of the same routes reach the same handlers: they refuse API tokens too.
    for (const path of ["/api/tokens/", "/api/tokens/.", "/api//tokens", "/api/tokens?x=1"]) {
      const r = await fetch(`${c().master}${path}`, { method: "POST", headers: { authorization: `Bearer ${deploy.token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "x", scope: "admin" }) });
      expect(r.status).not.toBe(201);
    }
    expect((await api(c().master, "POST", "/api/user/password/", { old_password: c().admin.password, new_password: "hijacked password" }, deploy.token)).status).not.toBe(200);
    const admin = (await api(c().master, "POST", "/api/tokens", { name: "ops", scope: "admin" }, c().admin.token)).body;
    expect((await api(c().master, "GET", "/api/agents", undefined, admin.token)).status).toBe(200);
    expect((await api(c().master, "POST", "/api/tokens", { name: "more" }, admin.token)).status).toBe(403);
    // The admin's password still works: nothing above changed it.
    expect((await login(c().master, c().admin.email, c().admin.password)).status).toBe(200);
  });

  test("a read token only reads, a deploy token limited to a site deploys only there, and tokens expire", async () => {
    const manifest = [{ path: "index.html", sha256: "a".repeat(64), size: 1 }];
    const read = (await api(c().master, "POST", "/api/tokens", { name: "mon", scope: "read" }, c().admin.token)).body;
    expect((await api(c().master, "GET", "/api/sites", undefined, read.token)).status).toBe(200);
    expect((await api(c().master, "POST", "/api/site", { name: "by-read" }, read.token)).status).toBe(403);
    expect((await api(c().master, "POST", "/api/deployment", { site: "by-read", manifest }, read.token)).status).toBe(403);

    const cli = await c().sprout(["tokens", "create", "one-site", "--site", "only-this", "--expires", "30d", "--json"]);
    expect(cli.code).toBe(0);
    const limited = JSON.parse(cli.stdout);
    expect(limited.sites).toEqual(["only-this"]);
    expect(Date.parse(limited.expires_at) - Date.now()).toBeGreaterThan(29 * 86400_000);
    expect((await api(c().master, "POST", "/api/deployment", { site: "only-this", manifest }, limited.token)).status).toBe(201);
    const elsewhere = await api(c().master, "POST", "/api/deployment", { site: "not-this", manifest }, limited.token);
    expect(elsewhere.status).toBe(403);
    expect((await api(c().master, "GET", "/api/site/not-this", undefined, c().admin.token)).status).toBe(404);
    expect((await api(c().master, "POST", "/api/site", { name: "not-this" }, limited.token)).status).toBe(403);

    const brief = (await api(c().master, "POST", "/api/tokens", { name: "brief", expires_in: 1 }, c().admin.token)).body;
    await Bun.sleep(1500);
    const expired = await api(c().master, "GET", "/api/sites", undefined, brief.token);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("token_expired");
  });
});

describe("admin UI", () => {
  test("pages refuse framing and sniffing and keep referrers; API answers refuse sniffing", async () => {
    const page = await fetch(`${c().master}/ui/login`);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("same-origin");
    // Only the master's own script files run (no inline script or handler, should tenant text ever
    // slip through unescaped), and no page is stored by the browser.
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const apiAnswer = await fetch(`${c().master}/api/sites`);
    expect(apiAnswer.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await fetch(`${c().master}/api/health`)).headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("Origin: null is refused with 403, never 500", async () => {
    for (const path of ["/ui/login", "/ui/logout", "/ui/sites/any/promote/abcdefabcdef"]) {
      const r = await fetch(`${c().master}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: "null", "content-type": "application/x-www-form-urlencoded", cookie: "sprout_access=x" },
        body: "email=admin%40example.com&password=x",
      });
      expect(`${path} ${r.status}`).not.toBe(`${path} 500`);
      if (path !== "/ui/sites/any/promote/abcdefabcdef") expect(`${path} ${r.status}`).toBe(`${path} 403`);
    }
  });

  // The master's cookies were plain `sprout_access`/`sprout_refresh`: a tenant's page on a sibling
  // subdomain (blog.sites.example.com beside sprout.example.com) can set those for all of example.com
  // from its own script, and the master took them. A visitor was then signed in as the tenant without
  // noticing (what they create or deploy lands in the tenant's account), or locked out for good.
  test("over HTTPS only the __Host- cookies are a session: one another site set for the parent domain signs nobody in", async () => {
    const https = { "x-forwarded-proto": "https" };
    const form = (email: string, password: string) => `email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`;
    const loginForm = (email: string, password: string) =>
      fetch(`${c().master}/ui/login`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...https }, body: form(email, password) });
    // The tenant's own login, tossed into the visitor's browser under the plain names.
    await c().user("tosser@example.com");
    const tenant = await api(c().master, "POST", "/api/user/token", { email: "tosser@example.com", password: "another password" });
    const tossed = `sprout_access=${tenant.body.access_token}; sprout_refresh=${tenant.body.refresh_token}`;
    const sites = await fetch(`${c().master}/ui/sites`, { redirect: "manual", headers: { cookie: tossed, ...https } });
    expect(sites.status).toBe(303);
    expect(sites.headers.get("location")).toBe("/ui/login");
    const deploy = await fetch(`${c().master}/api/deployment`, {
      method: "POST",
      headers: { cookie: tossed, origin: `https://${new URL(c().master).host}`, "content-type": "application/json", ...https },
      body: JSON.stringify({ site: "tossed-site", manifest: [{ path: "index.html", sha256: "d".repeat(64), size: 1 }] }),
    });
    expect(deploy.status).toBe(401);

    // The visitor's own session: cookies only this host can set.
    const victim = await loginForm(c().admin.email, c().admin.password);
    const set = victim.headers.getSetCookie();
    expect(set.map((x) => x.split("=")[0])).toEqual(["__Host-sprout_access", "__Host-sprout_refresh"]);
    for (const x of set) expect(x).toMatch(/; Path=\/;.*; Secure$/);
    for (const x of set) expect(x).not.toContain("Domain");
    const victimCookie = set.map((x) => x.split(";")[0]).join("; ");
    // Beside the visitor's own session, the tossed one is not the one read.
    const account = await fetch(`${c().master}/ui/account`, { redirect: "manual", headers: { cookie: `${tossed}; ${victimCookie}`, ...https } });
    expect(account.status).toBe(200);
    const text = await account.text();
    expect(text).toContain(c().admin.email);
    expect(text).not.toContain("tosser@example.com");
    // Log out clears the __Host- cookies (a Secure answer, as the prefix needs).
    const out = await fetch(`${c().master}/ui/logout`, { method: "POST", redirect: "manual", headers: { cookie: victimCookie, ...https } });
    expect(out.headers.getSetCookie()).toEqual(["__Host-sprout_access=; Path=/; Max-Age=0; Secure", "__Host-sprout_refresh=; Path=/; Max-Age=0; Secure"]);
  });

  test("session cookies are Secure behind a trusted TLS proxy, and a forged X-Forwarded-Proto is ignored", async () => {
    const form = `email=${encodeURIComponent(c().admin.email)}&password=${encodeURIComponent(c().admin.password)}`;
    const post = (base: string, headers: Record<string, string>) =>
      fetch(`${base}/ui/login`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form });
    const trusted = await post(c().master, { "x-forwarded-proto": "https" });
    expect(trusted.status).toBe(303);
    expect(trusted.headers.getSetCookie().every((x) => x.includes("; Secure"))).toBe(true);
    const plain = await post(c().master, {});
    expect(plain.headers.getSetCookie().some((x) => x.includes("Secure"))).toBe(false);
    // A master with no trusted proxy does not believe a client's own X-Forwarded-Proto.
    const m = await bareMaster(["--admin-email", c().admin.email], { SPROUT_ADMIN_PASSWORD: c().admin.password });
    const forged = await post(m.url, { "x-forwarded-proto": "https" });
    expect(forged.status).toBe(303);
    expect(forged.headers.getSetCookie().some((x) => x.includes("Secure"))).toBe(false);
  });
});

describe("site names", () => {
  test("reserved names are refused on site creation and on the deploy that would create the site", async () => {
    const manifest = [{ path: "index.html", sha256: "a".repeat(64), size: 1 }];
    for (const name of ["www", "admin", "api", "mail", "ns1", "static", "sprout", "acme-challenge"]) {
      const site = await api(c().master, "POST", "/api/site", { name }, c().admin.token);
      expect(`${name} ${site.status} ${site.body.error?.code}`).toBe(`${name} 400 site_name_reserved`);
      const dep = await api(c().master, "POST", "/api/deployment", { site: name, manifest }, c().admin.token);
      expect(`${name} ${dep.status}`).toBe(`${name} 400`);
    }
    const sites = (await api(c().master, "GET", "/api/sites", undefined, c().admin.token)).body.map((s: any) => s.name);
    expect(sites).not.toContain("www");
    const cli = await c().sprout(["sites", "create", "dashboard"]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("reserved");
  });
});

describe("sprout up", () => {
  test("keeps no password on disk: only tokens, 0600, and a second run logs in with them", async () => {
    const data = tempDir();
    const run = async () => {
      const http = freePort();
      const { p } = await start(
        "up",
        ["up", "--data", data, "--listen", `127.0.0.1:${freePort()}`, "--agent-listen", `127.0.0.1:${freePort()}`, "--http-listen", `127.0.0.1:${http}`],
        { SPROUT_CONFIG_DIR: join(data, "cfg"), SPROUT_CACHE_DIR: join(data, "cache") },
        /Example site:\s+(\S+)/,
        90_000,
      );
      const out = p.output();
      p.proc.kill("SIGINT");
      await p.proc.exited;
      killNginx(join(data, "agent"));
      return out;
    };
    const first = await run();
    const password = /password: (\S+)/.exec(first)![1]!;
    // Regular files only: a deployment without rules has a link to "none" (nothing to read).
    const files = (readdirSync(data, { recursive: true }) as string[]).filter((f) => lstatSync(join(data, f)).isFile());
    for (const f of files) expect(`${f} ${readFileSync(join(data, f)).includes(password)}`).toBe(`${f} false`);
    expect(files).not.toContain("admin.json");
    expect(statSync(join(data, "admin-token")).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, "cfg", "credentials.json")).mode & 0o777).toBe(0o600);
    const second = await run();
    expect(second).toContain("password shown on the first run");
    expect(second).not.toContain(password);
  }, 240_000);
});
