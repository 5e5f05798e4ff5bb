import { beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, api, site, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const cl = useCluster();
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const deploy = async (dir: string, name: string, extra: string[] = ["--prod"]) => {
  const r = await c.sprout(["deploy", dir, "--site", name, ...extra, "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed:\n${r.stderr}\n${c.logs()}`);
  return JSON.parse(r.stdout);
};

describe("serving never stops", () => {
  test("deploys and rollbacks under steady requests cause no failed request and no mixed page", async () => {
    const page = (v: string) => `<!doctype html><title>${v}</title>` + `<p>${v}</p>`.repeat(2000);
    const a = site({ "index.html": page("A"), "app.js": "console.log('A')" });
    const b = site({ "index.html": page("B"), "app.js": "console.log('B')" });
    await deploy(a, "steady");
    let stop = false;
    let requests = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const load = async () => {
      while (!stop && requests < 20_000) {
        requests++;
        const r = await c.get(`steady.${c.domain}`, "/").catch((e) => e as Error);
        if (r instanceof Error) failures.push(r.message);
        else {
          const body = await r.text();
          if (r.status !== 200) failures.push(`status ${r.status}`);
          else if (body === page("A")) seen.add("A");
          else if (body === page("B")) seen.add("B");
          else failures.push(`mixed or partial body of ${body.length} bytes`);
        }
      }
    };
    const clients = Array.from({ length: 4 }, load);
    for (let i = 0; i < 3; i++) {
      await deploy(b, "steady");
      await deploy(a, "steady");
    }
    expect((await c.sprout(["rollback", "--site", "steady"])).code).toBe(0);
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(100);
    expect([...seen].sort()).toEqual(["A", "B"]);
    const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
    expect(agents[0].system.nginx_reloads).toBe(0);
  });

  test("an interrupted upload is resumed by running the deploy again: only what is missing goes up", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${i}.txt`] = `file ${i}\n`.repeat(200);
    const dir = site(files);
    const manifest = Object.entries(files).map(([path, body]) => ({ path, sha256: sha256(body), size: body.length })).sort((x, y) => (x.path < y.path ? -1 : 1));
    const created = await api(c.master, "POST", "/api/deployment", { site: "resume", production: true, manifest }, c.admin.token);
    const { agent_url, grant } = created.body.upload;
    const id = created.body.deployment.id;
    const init = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: id, manifest });
    expect(init.body.missing.length).toBe(20);
    // Send the first 8 files completely, then cut the connection in the middle of the 9th.
    const tar = await makeTar(manifest.slice(0, 9).map((e) => ({ header: { name: e.path }, body: files[e.path]! })));
    const cut = tar.length - 1500;
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(tar.slice(0, cut));
        setTimeout(() => ctl.error(new Error("connection lost")), 100);
      },
    });
    await fetch(`${agent_url}/api/upload/file`, { method: "POST", headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": id }, body, duplex: "half" } as RequestInit).catch(() => null);
    const r = await deploy(dir, "resume");
    expect(r.status).toBe("ready");
    expect(r.files_uploaded).toBe(12);
    for (const [path, content] of Object.entries(files)) expect(await (await c.get(`resume.${c.domain}`, `/${path}`)).text()).toBe(content);
  });

  test("rolling back to a deployment the node no longer holds fails quickly with a clear error; production is unchanged", async () => {
    const dir = site({ "index.html": "one" });
    const first = await deploy(dir, "gcd");
    writeFileSync(join(dir, "index.html"), "two");
    await deploy(dir, "gcd");
    // As garbage collection would: the first deployment's tree is gone from the node.
    rmSync(join(c.nodes[0]!.data, "sites", "gcd", "deploys", first.deployment_id), { recursive: true });
    const t0 = performance.now();
    const r = await c.sprout(["rollback", "--site", "gcd", first.deployment_id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("could not be put on production");
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(await (await c.get(`gcd.${c.domain}`, "/")).text()).toBe("two");
  });

  test("with the master stopped, every site is still served and the CLI says the master is unreachable", async () => {
    const dir = site({ "index.html": "still here" });
    await deploy(dir, "survivor");
    await c.masterProc.kill();
    const r = await c.get(`survivor.${c.domain}`, "/");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("still here");
    // The CLI says clearly that the master is unreachable.
    writeFileSync(join(dir, "index.html"), "new");
    const failed = await c.sprout(["deploy", dir, "--site", "survivor", "--prod"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("Cannot reach the master");
    expect(await (await c.get(`survivor.${c.domain}`, "/")).text()).toBe("still here");
  });
});
