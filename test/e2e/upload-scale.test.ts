// Uploads of many files: the node's memory stays bounded whatever the number of files, and small
// files skip precompressed siblings (nginx compresses them on the fly) without visitors noticing.
// Larger ones get theirs after the deployment is live, the deploy log saying when.
import { beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { api, type Cluster, site, tempDir, useCluster } from "../helpers/cluster";

const cl = useCluster({ masterArgs: ["--quota-files", "100000"] });
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

test("a deploy of 50,000 files goes through with the node's memory bounded, and every file is served", async () => {
  const dir = tempDir("sprout-50k-");
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let f = 0; f < 500; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `folder ${d} file ${f}\n`);
  }
  writeFileSync(join(dir, "index.html"), "<h1>many</h1>");
  const pid = c.nodes[0]!.p.proc.pid;
  const before = rssMb(pid);
  let peak = before;
  let on = true;
  const sampling = (async () => {
    while (on) {
      peak = Math.max(peak, rssMb(pid));
      await Bun.sleep(25);
    }
  })();
  const r = await c.sprout(["deploy", dir, "--site", "many-files", "--prod", "--json"]);
  on = false;
  await sampling;
  if (r.code !== 0) throw new Error(`deploy failed:\n${r.stderr}\n${c.logs()}`);
  const out = JSON.parse(r.stdout);
  expect(out.files_total).toBe(50_001);
  expect(out.files_uploaded).toBe(50_001);
  console.error(`agent RSS ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at peak during a 50,001-file deploy`);
  // The node holds the manifest (some MB) and a few files' bytes at a time, never the site.
  expect(peak - before).toBeLessThan(200);
  for (const [d, f] of [[0, 0], [57, 311], [99, 499]])
    expect(await (await c.get(`many-files.${c.domain}`, `/d${d}/f${f}.txt`)).text()).toBe(`folder ${d} file ${f}\n`);
}, 300_000);

/** logOf answers a deployment's log lines once one matches `want` (or after 60 s). */
async function logOf(id: string, want: RegExp): Promise<string> {
  const end = Date.now() + 60_000;
  for (;;) {
    const lines = (await api(c.master, "GET", `/api/deployment/${id}`, undefined, c.admin.token)).body.events.map((e: { message: string }) => e.message).join("\n");
    if (want.test(lines) || Date.now() > end) return lines;
    await Bun.sleep(200);
  }
}

test("files under 1 KiB get no precompressed sibling and are still sent gzip-compressed; larger ones get their .gz once live, the log says when", async () => {
  const small = "body { color: red; }\n".repeat(40); // 840 bytes
  const large = ".rule { margin: 0 auto; padding: 1rem; }\n".repeat(100);
  const dir = site({ "index.html": "<h1>css</h1>", "small.css": small, "large.css": large });
  const r = await c.sprout(["deploy", dir, "--site", "small-css", "--prod", "--json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const served = join(c.nodes[0]!.data, "sites", "small-css", "current");
  expect(existsSync(join(served, "small.css"))).toBe(true);
  const log = await logOf(JSON.parse(r.stdout).deployment_id, /gzip forms of/);
  expect(log).toContain("1 to precompress once live");
  expect(log).toMatch(/gzip forms of 1 file ready \([\d.]+ s after staging\)/);
  expect(existsSync(join(served, "small.css.gz"))).toBe(false);
  expect(gunzipSync(readFileSync(join(served, "large.css.gz"))).toString()).toBe(large);
  for (const [path, body] of [["/small.css", small], ["/large.css", large]] as const) {
    const res = await c.get(`small-css.${c.domain}`, path, undefined, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(new Uint8Array(await res.arrayBuffer())).toString()).toBe(body);
  }
});
