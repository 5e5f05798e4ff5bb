// The deploy path's own costs, over real HTTP against the compiled binary, a real agent and nginx:
// the CLI follows a deploy by long poll (the master answers at the deployment's next log line), the
// node makes compressed forms on a thread at a low CPU priority (so background compression takes
// mostly CPU nothing else wants), and an upload of many small files, with blobs the node already
// holds for the account beside new ones, stages and serves every file byte-exact.
import { expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, site, useCluster } from "../helpers/cluster";
import { sha256 } from "../helpers/tar";
import { COMPRESS_NICE } from "../../src/agent/compress-worker";

const c = useCluster();

test("a follow request sent before the deployment's next log line answers with that line", async () => {
  const body = "<h1>waiting</h1>";
  const manifest = [{ path: "index.html", sha256: sha256(body), size: Buffer.byteLength(body) }];
  const created = await api(c().master, "POST", "/api/deployment", { site: "longpoll", production: true, manifest }, c().admin.token);
  expect(created.status).toBe(201);
  const id = created.body.deployment.id as string;
  const now = await api(c().master, "GET", `/api/deployment/${id}`, undefined, c().admin.token);
  const last = Math.max(...now.body.events.map((e: { id: number }) => e.id));

  // Nothing happens: the request waits, then answers with no new line.
  const quiet = await api(c().master, "GET", `/api/deployment/${id}?after=${last}&wait=300`, undefined, c().admin.token);
  expect(quiet.status).toBe(200);
  expect(quiet.body.events).toEqual([]);
  expect(quiet.body.status).toBe("pending");

  // Asked first, answered with the line logged afterwards (an older master answered at once, empty).
  let settled = false;
  const waiting = api(c().master, "GET", `/api/deployment/${id}?after=${last}&wait=30000`, undefined, c().admin.token).finally(() => (settled = true));
  await Bun.sleep(500);
  expect(settled).toBe(false);
  const cancelled = await api(c().master, "POST", "/api/site/longpoll/cancel", { deployment_id: id }, c().admin.token);
  expect(cancelled.status).toBe(200);
  const answer = await waiting;
  expect(answer.status).toBe(200);
  expect(answer.body.status).toBe("failed");
  expect(answer.body.events.map((e: { message: string }) => e.message).join("\n")).toContain("Cancelled by");
});

test("the node makes compressed forms on a thread at a low CPU priority, and serves them", async () => {
  const js = Array.from({ length: 300 }, (_, i) => `export const value${i} = { id: ${i}, label: "item ${i}" };\n`).join("");
  const r = await c().sprout(["deploy", site({ "index.html": "<h1>br</h1>", "app.js": js }), "--site", "brnice", "--prod", "--json"]);
  expect(r.code).toBe(0);
  const end = Date.now() + 60_000;
  let enc: string | null = null;
  while (Date.now() < end) {
    const res = await c().get(`brnice.${c().domain}`, "/app.js", undefined, { headers: { "accept-encoding": "br" }, decompress: false } as RequestInit);
    enc = res.headers.get("content-encoding");
    if (enc === "br") break;
    await Bun.sleep(200);
  }
  expect(enc).toBe("br");
  // Linux keeps a nice value per thread: field 19 of /proc/<pid>/task/<tid>/stat.
  const pid = c().nodes[0]!.p.proc.pid;
  const nices = readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
  // The agent's own thread (its pid) keeps its priority: deploys and requests are not slowed.
  const main = readFileSync(`/proc/${pid}/stat`, "utf8");
  const own = Number(main.slice(main.lastIndexOf(")") + 2).split(" ")[16]);
  expect(nices).toContain(Math.min(19, own + COMPRESS_NICE));
});

test("a deploy of many small files, some held by the node already and some new, serves each file byte-exact", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 400; i++) files[`d${i % 7}/f${i}.css`] = `/* file ${i} */ .c${i} { color: #${(i * 2654435761 % 0xffffff).toString(16).padStart(6, "0")}; }\n`.repeat(1 + (i % 5));
  files["index.html"] = "<h1>many</h1>";
  const dir = site(files);
  const first = await c().sprout(["deploy", dir, "--site", "manysmall", "--prod", "--json"]);
  expect(first.code).toBe(0);
  // Half the files change: the rest are the node's already (for this account), the new ones are uploaded.
  for (let i = 0; i < 400; i += 2) {
    files[`d${i % 7}/f${i}.css`] = `/* changed ${i} */\n`;
    writeFileSync(join(dir, `d${i % 7}/f${i}.css`), files[`d${i % 7}/f${i}.css`]!);
  }
  const second = await c().sprout(["deploy", dir, "--site", "manysmall", "--prod", "--json"]);
  expect(second.code).toBe(0);
  const out = JSON.parse(second.stdout);
  expect(out.status).toBe("ready");
  expect(out.files_uploaded).toBe(200);
  for (const [path, body] of Object.entries(files).filter((_, k) => k % 9 === 0 || k < 3)) {
    const res = await c().get(`manysmall.${c().domain}`, `/${path}`, undefined, { headers: { "accept-encoding": "identity" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
  }
});
