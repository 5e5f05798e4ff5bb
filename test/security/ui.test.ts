// The admin UI's own ways in: the cookie session may call POST /api/deployment (browser deploys), and
// the master passes the node's upload calls through (src/ui/upload-proxy.ts). Over real HTTP against
// the compiled binary: another site cannot use a visitor's cookies, another account's deployment is
// "not found", and the master forwards only to the node its own grant names.
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { api, useCluster } from "../helpers/cluster";

const c = useCluster();
const manifest = [{ path: "index.html", sha256: "c".repeat(64), size: 1 }];

/** cookiesOf logs in through the login form and answers the session's Cookie header. */
async function cookiesOf(email: string, password: string): Promise<string> {
  const r = await fetch(`${c().master}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`,
  });
  return r.headers.getSetCookie().map((x) => x.split(";")[0]).join("; ");
}

const host = () => new URL(c().master).host;
const post = (path: string, cookie: string, headers: Record<string, string>, body: BodyInit) =>
  fetch(`${c().master}${path}`, { method: "POST", headers: { cookie, ...headers }, body });

describe("browser deploys with the cookie session", () => {
  test("POST /api/deployment takes the session cookie only from the master's own origin", async () => {
    const cookie = await cookiesOf(c().admin.email, c().admin.password);
    const body = JSON.stringify({ site: "cookie-site", manifest });
    const json = { "content-type": "application/json" };
    expect((await post("/api/deployment", cookie, json, body)).status).toBe(403);
    expect((await post("/api/deployment", cookie, { ...json, origin: "https://evil.example" }, body)).status).toBe(403);
    expect((await post("/api/deployment", cookie, { ...json, origin: "null" }, body)).status).toBe(403);
    expect((await api(c().master, "GET", "/api/site/cookie-site", undefined, c().admin.token)).status).toBe(404);
    const ok = await post("/api/deployment", cookie, { ...json, origin: `http://${host()}` }, body);
    expect(ok.status).toBe(201);
  });

  test("the upload pass-through refuses another account's deployment, a grant for another deployment, and files before init", async () => {
    const admin = await cookiesOf(c().admin.email, c().admin.password);
    await c().user("mallory@example.com");
    const mallory = await cookiesOf("mallory@example.com", "another password");
    const origin = { origin: `http://${host()}` };
    const mine = await api(c().master, "POST", "/api/deployment", { site: "victim", manifest }, c().admin.token);
    const other = await api(c().master, "POST", "/api/deployment", { site: "victim", manifest }, c().admin.token);
    const init = (cookie: string, id: string, grant: string) =>
      post(`/ui/deployments/${id}/upload/init`, cookie, { ...origin, "content-type": "application/json", "x-sprout-grant": grant }, JSON.stringify({ grant, deployment_id: id, manifest }));
    // Another account: not found, and nothing reaches the node.
    expect((await init(mallory, mine.body.deployment.id, mine.body.upload.grant)).status).toBe(404);
    // The grant of another deployment cannot open this one.
    expect((await init(admin, mine.body.deployment.id, other.body.upload.grant)).status).toBe(403);
    // A made-up grant is refused by the master's signature check.
    expect((await init(admin, mine.body.deployment.id, "eyJhbGciOiJFZERTQSJ9.e30.AAAA")).status).toBe(401);
    // Files before init, and from another origin: refused.
    const tar = new Uint8Array(1024);
    expect((await post(`/ui/deployments/${mine.body.deployment.id}/upload/file`, admin, { ...origin, "content-type": "application/x-tar" }, tar)).status).toBe(409);
    expect((await post(`/ui/deployments/${mine.body.deployment.id}/upload/file`, admin, { origin: "https://evil.example", "content-type": "application/x-tar" }, tar)).status).toBe(403);
    // The real flow works: init answers what the node lacks, then an (empty) tar is taken.
    const ok = await init(admin, mine.body.deployment.id, mine.body.upload.grant);
    expect(ok.status).toBe(200);
    expect((await ok.json()).missing).toEqual(["c".repeat(64)]);
    // Mallory cannot send files to the upload the admin started.
    expect((await post(`/ui/deployments/${mine.body.deployment.id}/upload/file`, mallory, { ...origin, "content-type": "application/x-tar" }, tar)).status).toBe(404);
  });

  test("an upload over the pass-through's size limit is refused from its declared length, before a byte is read", async () => {
    const admin = await cookiesOf(c().admin.email, c().admin.password);
    const { hostname, port } = new URL(c().master);
    // Only the request head is sent: the answer must come without the 110 MB it announces (over the 101 MB limit, under the server's own cap).
    const head = [
      "POST /ui/deployments/abcdefabcdef/upload/file HTTP/1.1",
      `Host: ${host()}`,
      `Cookie: ${admin}`,
      `Origin: http://${host()}`,
      "Content-Type: application/x-tar",
      `Content-Length: ${110 * 1024 * 1024}`,
      "",
      "",
    ].join("\r\n");
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect({ host: hostname, port: Number(port) }, () => sock.write(head));
      let got = "";
      sock.on("data", (d) => {
        got += d.toString();
        if (got.includes("\r\n\r\n")) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on("error", reject);
      setTimeout(() => (sock.destroy(), resolve(got)), 10_000);
    });
    expect(answer.split("\r\n")[0]).toStartWith("HTTP/1.1 413");
  });
});

describe("the UI's cookie is a login, never an API token", () => {
  // A read-only (or site-limited) API token put in the sprout_access cookie was taken by the UI as a
  // full login of its owner: the UI minted an unrestricted token with it (API tokens cannot mint tokens),
  // and the admin's read token opened every admin page and action.
  test("an API token in the access cookie opens no page and mints no token", async () => {
    const read = await api(c().master, "POST", "/api/tokens", { name: "ro", scope: "read" }, c().admin.token);
    expect(read.status).toBe(201);
    const cookie = `sprout_access=${read.body.token}`;
    const minted = await fetch(`${c().master}/ui/tokens`, { method: "POST", redirect: "manual", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: "name=escalated&scope=admin" });
    expect(minted.status).toBe(303);
    expect(minted.headers.get("location")).toBe("/ui/login");
    const page = await fetch(`${c().master}/ui/users`, { headers: { cookie }, redirect: "manual" });
    expect(page.status).toBe(303);
    const tokens = await api(c().master, "GET", "/api/tokens", undefined, c().admin.token);
    expect(tokens.body.map((t: { name: string }) => t.name)).not.toContain("escalated");
    // The browser deploy's cookie path takes a login only, too (a bearer token goes in Authorization).
    const deploy = await post("/api/deployment", cookie, { "content-type": "application/json", origin: `http://${host()}` }, JSON.stringify({ site: "ro-cookie", manifest }));
    expect(deploy.status).toBe(401);
  });
});

describe("requests from another origin", () => {
  // SameSite=Strict does not keep out a tenant's page on a sibling subdomain (same site), and a
  // request that carries no Origin header was let through whatever the browser said of it.
  test("a form post without Origin that the browser marks as from another origin is refused; one from this origin goes through", async () => {
    const cookie = await cookiesOf(c().admin.email, c().admin.password);
    const mint = (headers: Record<string, string>, name: string) =>
      fetch(`${c().master}/ui/tokens`, { method: "POST", redirect: "manual", headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers }, body: `name=${name}&scope=read` });
    expect((await mint({ "sec-fetch-site": "same-site" }, "from-a-sibling")).status).toBe(403);
    expect((await mint({ "sec-fetch-site": "cross-site" }, "from-elsewhere")).status).toBe(403);
    expect((await mint({ "sec-fetch-site": "same-origin" }, "from-here")).status).toBe(200);
    const names = (await api(c().master, "GET", "/api/tokens", undefined, c().admin.token)).body.map((t: { name: string }) => t.name);
    expect(names).toContain("from-here");
    expect(names).not.toContain("from-a-sibling");
    expect(names).not.toContain("from-elsewhere");
  });
});

describe("live views", () => {
  // Server-Sent Events end a line at CR as well as LF: a deploy message with a bare CR wrote its own
  // event fields into the site page's stream (`event: done` stopped the live view).
  test("a CR in a deploy message cannot write fields into the site's event stream", async () => {
    const cookie = await cookiesOf(c().admin.email, c().admin.password);
    const made = await api(c().master, "POST", "/api/deployment", { site: "cr-site", manifest, message: "fix\revent: done\rdata: injected" }, c().admin.token);
    expect(made.status).toBe(201);
    const ac = new AbortController();
    const r = await fetch(`${c().master}/ui/events/sites/cr-site`, { headers: { cookie }, signal: ac.signal });
    const reader = r.body!.getReader();
    let text = "";
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    expect(text).toContain("deploy-message");
    expect(text).not.toContain("\r");
  });

  // A live view checked the session when it connected only: logged out (or ended from another
  // browser, or the account disabled), an open page went on receiving the account's sites and
  // deployments for the stream's whole lifetime, 5 minutes.
  test("a live view ends once its login does: logged out, nothing more streams", async () => {
    const cookie = await cookiesOf(c().admin.email, c().admin.password);
    const ac = new AbortController();
    const r = await fetch(`${c().master}/ui/events/sites`, { headers: { cookie }, signal: ac.signal });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let text = "";
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    const out = await fetch(`${c().master}/ui/logout`, { method: "POST", redirect: "manual", headers: { cookie } });
    expect(out.status).toBe(303);
    // The stream says it is done and ends within seconds (its own lifetime is minutes).
    const ended = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        text += new TextDecoder().decode(value);
      }
    })();
    const result = await Promise.race([ended, Bun.sleep(10_000).then(() => false)]);
    ac.abort();
    expect(result).toBe(true);
    expect(text).toContain("event: done\ndata: signed out");
  });
});

describe("static files", () => {
  // The asset table was indexed with the path's name as is: "constructor" answered 200 with
  // `Content-Type: undefined` and an empty body (and would answer whatever an object's key holds).
  test("only the UI's own files are served; names of an object's machinery are 404", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const r = await fetch(`${c().master}/ui/static/${name}`);
      expect(`${name} ${r.status}`).toBe(`${name} 404`);
    }
    const css = await fetch(`${c().master}/ui/static/app.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});
