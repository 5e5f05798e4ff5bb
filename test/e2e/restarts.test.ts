// Restarts in the middle of work (cluster issue): a deploy whose master restarts while the CLI
// follows it still ends live and the CLI says so; a tree a crash left half-staged is removed when
// the agent starts again; compressed forms a killed agent had not made yet are made after it starts;
// a deploy whose node or master is down for a few seconds waits for it.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { api, cluster as newCluster, killNginx, restartAgent, site, sproutBinary, start, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const cluster = useCluster();

describe("restarts", () => {
  test("a deploy survives a master restart: the CLI waits for the master and reports the final state", async () => {
    const c = cluster();
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`page-${i}.html`] = `page ${i} `.repeat(200);
    files["index.html"] = "after the restart";
    const dir = site(files);
    const proc = Bun.spawn([sproutBinary(), "deploy", dir, "--site", "steady", "--prod", "--json"], {
      cwd: c.home,
      env: { ...process.env, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: join(c.home, "cli-cache"), SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token },
      stdout: "pipe",
      stderr: "pipe",
    });
    // Kill the master as soon as the upload starts, then start it again on the same port and data.
    let err = "";
    const reader = (async () => {
      for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
    })();
    const end = Date.now() + 30_000;
    while (!/upload|Node has/i.test(err) && Date.now() < end) await Bun.sleep(10);
    await c.masterProc.kill("SIGKILL");
    await Bun.sleep(1500);
    const port = new URL(c.master).port;
    await start("master (restarted)", ["master", "--listen", `127.0.0.1:${port}`, "--data", join(c.home, "master"), "--domain", c.domain], {}, /listening on/);
    const code = await proc.exited;
    await reader;
    const out = await new Response(proc.stdout).text();
    expect(code).toBe(0);
    expect(JSON.parse(out).status).toBe("ready");
    expect(err).toContain("master is unreachable");
    expect(await (await c.get(`steady.${c.domain}`, "/")).text()).toBe("after the restart");
  });

  test("a tree left half-staged by a crash is removed when the agent starts", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    const half = join(node.data, "sites", "steady", "deploys", "abcdef123456.tmp-0badc0de");
    mkdirSync(half, { recursive: true });
    writeFileSync(join(half, "index.html"), "half");
    await node.p.kill("SIGKILL");
    await restartAgent(c, 0);
    expect(existsSync(half)).toBe(false);
    expect(await (await c.get(`steady.${c.domain}`, "/")).text()).toBe("after the restart");
  });

  test("compressed forms still to make when the agent is killed are made after it starts again", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    // An upload held open keeps the node busy, so the forms of the next deploy wait (they are made
    // only while no upload runs) until the agent is killed.
    const held = "held open";
    const manifest = [{ path: "held.txt", sha256: sha256(held), size: held.length }];
    const created = await api(c.master, "POST", "/api/deployment", { site: "held", production: true, manifest }, c.admin.token);
    const d = { id: created.body.deployment.id as string, url: created.body.upload.agent_url as string };
    const init = await api(d.url, "POST", "/api/upload/init", { grant: created.body.upload.grant, deployment_id: d.id, manifest });
    // The entry's header only: the node waits for its bytes.
    const header = (await makeTar([{ header: { name: "held.txt" }, body: held }])).subarray(0, 512);
    const body = new ReadableStream<Uint8Array>({ start: (ctl) => ctl.enqueue(header) });
    const hold = fetch(`${d.url}/api/upload/file`, { method: "POST", headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": d.id }, body }).catch(() => null);
    await Bun.sleep(500);

    const css = ".card { margin: 0 auto; padding: 1rem; }\n".repeat(200);
    const r = await c.sprout(["deploy", site({ "index.html": "<h1>forms</h1>", "app.css": css }), "--site", "forms", "--prod", "--json"]);
    expect(r.code).toBe(0);
    const served = join(node.data, "sites", "forms", "current");
    await Bun.sleep(1000);
    expect(existsSync(join(served, "app.css.gz"))).toBe(false);
    expect(readdirSync(join(node.data, "siblings")).length).toBe(1);
    await node.p.kill("SIGKILL");
    await hold;

    await restartAgent(c, 0);
    const end = Date.now() + 30_000;
    while (!existsSync(join(served, "app.css.gz")) && Date.now() < end) await Bun.sleep(100);
    expect(gunzipSync(readFileSync(join(served, "app.css.gz"))).toString()).toBe(css);
    const events = (await api(c.master, "GET", `/api/deployment/${JSON.parse(r.stdout).deployment_id}`, undefined, c.admin.token)).body.events;
    expect(events.map((e: { message: string }) => e.message).join("\n")).toMatch(/gzip forms of 1 file ready/);
    while (readdirSync(join(node.data, "siblings")).length && Date.now() < end) await Bun.sleep(100);
    expect(readdirSync(join(node.data, "siblings"))).toEqual([]);
  }, 90_000);

  test("a deploy started while the master restarts waits for it and ends live, saying so; `sprout login` to a dead address fails at once", async () => {
    // A cluster of its own: the file's shared one runs a master the first test restarted.
    const c = await newCluster();
    await c.masterProc.kill("SIGKILL");
    const deploy = c.sprout(["deploy", site({ "index.html": "after the master came back" }), "--site", "patient-master", "--prod"]);
    await Bun.sleep(3000);
    const port = new URL(c.master).port;
    await start("master (restarted)", ["master", "--listen", `127.0.0.1:${port}`, "--data", join(c.home, "master"), "--domain", c.domain], {}, /listening on/);
    const r = await deploy;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("The master is unreachable (connection refused); trying again for up to 15 s");
    expect(await (await c.get(`patient-master.${c.domain}`, "/")).text()).toBe("after the master came back");
    // Without a login, a wrong address is a mistake to report at once, not a restart to wait for.
    const t0 = Date.now();
    const login = await c.sprout(["login", "--master", "http://127.0.0.1:9", "--email", "a@example.com", "--password", "x"]);
    expect(login.code).not.toBe(0);
    expect(login.stderr).toContain("connection refused");
    expect(Date.now() - t0).toBeLessThan(5000);
    await c.stop();
  }, 90_000);

  test("a deploy whose node stays down goes to another node of the site, and the first deployment is cancelled", async () => {
    const c = await newCluster({ agents: 2 });
    const first = await c.sprout(["deploy", site({ "index.html": "one" }), "--site", "elsewhere", "--prod", "--json"]);
    expect(first.code).toBe(0);
    // The node the site's deploys upload to (the first of its nodes): gone for good.
    const primary = c.nodes.find((n) => first.stderr.includes(`on ${n.url}`))!;
    const other = c.nodes.find((n) => n !== primary)!;
    await primary.p.kill("SIGKILL");
    killNginx(primary.data);
    const r = await c.sprout(["deploy", site({ "index.html": "two" }), "--site", "elsewhere", "--prod", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`goes to ${other.url} instead`);
    expect(await (await c.get(`elsewhere.${c.domain}`, "/", other)).text()).toBe("two");
    const moved = JSON.parse(r.stdout).deployment_id;
    const list = (await api(c.master, "GET", "/api/site/elsewhere/deployments", undefined, c.admin.token)).body as { id: string; status: string; error: string | null }[];
    const abandoned = list.filter((d) => d.id !== moved && d.status !== "ready");
    expect(abandoned.map((d) => d.status)).toEqual(["failed"]);
    await c.stop();
  }, 120_000);

  test("a deploy whose node is down for a few seconds waits for it and ends live, saying so", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    await node.p.kill("SIGKILL");
    // The master still counts the node as up (its last heartbeat is recent): the grant names it.
    const deploy = c.sprout(["deploy", site({ "index.html": "after the node came back" }), "--site", "patient", "--prod"]);
    await Bun.sleep(3000);
    await restartAgent(c, 0);
    const r = await deploy;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Cannot reach the node at");
    expect(r.stderr).toContain("connection refused (nothing listens at that address). Trying again for up to 30 s");
    expect(r.stderr).toContain("The node answers again.");
    expect(await (await c.get(`patient.${c.domain}`, "/")).text()).toBe("after the node came back");
  }, 90_000);
});
