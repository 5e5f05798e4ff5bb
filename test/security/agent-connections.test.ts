// The agent API is on the internet (CLIs upload to it directly). These tests are an attacker who opens
// connections and sends nothing more, a client whose upload stops half-way, and a body far larger than
// the route takes; and, so the cure does not cut real deploys, an upload that is slow but keeps going.
// The agent runs with --idle-timeout 2 (the default is 120 s) so each case takes seconds.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { api, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const get = useCluster({ agentArgs: ["--idle-timeout", "2"] });

const pid = () => get().nodes[0]!.p.proc.pid;
const openFiles = () => readdirSync(`/proc/${pid()}/fd`).length;
const rssMB = () => Number(readFileSync(`/proc/${pid()}/status`, "utf8").match(/VmRSS:\s+(\d+)/)![1]) / 1024;

/** connect opens a raw connection to the agent API and answers it with what the agent sent and whether it closed it. */
async function connect() {
  const u = new URL(get().nodes[0]!.url);
  const state = { got: "", closed: false };
  const socket = await Bun.connect({
    hostname: u.hostname,
    port: Number(u.port),
    socket: { data: (_s, d) => void (state.got += d.toString()), close: () => void (state.closed = true), error: () => {} },
  });
  return { socket, state };
}

type Entry = { path: string; sha256: string; size: number };
const entry = (path: string, body: string | Uint8Array): Entry => ({ path, sha256: sha256(body), size: typeof body === "string" ? Buffer.byteLength(body) : body.length });

/** begin creates a deployment and passes init, as the CLI does. */
async function begin(site: string, manifest: Entry[]) {
  const c = get();
  const r = await api(c.master, "POST", "/api/deployment", { site, production: true, manifest }, c.admin.token);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  const d = { id: r.body.deployment.id as string, agent: r.body.upload.agent_url as string };
  const i = await api(d.agent, "POST", "/api/upload/init", { grant: r.body.upload.grant, deployment_id: d.id, manifest });
  expect(i.status).toBe(200);
  return { ...d, token: i.body.upload_token as string };
}

const headers = (d: { id: string; token: string }) => ({ "x-upload-token": d.token, "x-deployment-id": d.id });

test("connections that stop sending are closed: idle after a request, mid-headers, mid-body", async () => {
  const before = openFiles();
  const conns = [];
  for (let i = 0; i < 30; i++) {
    const idle = await connect();
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const headersOnly = await connect();
    headersOnly.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const init = await connect();
    init.socket.write("POST /api/upload/init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"grant\":\"");
    conns.push(idle, headersOnly, init);
  }
  await Bun.sleep(300);
  expect(openFiles()).toBeGreaterThanOrEqual(before + 90);
  // Bun closes a connection whose headers never end after about 10 s of its own; the others go with
  // --idle-timeout (it checks every few seconds, so up to twice the timeout).
  const end = Date.now() + 15_000;
  while (Date.now() < end && conns.some((c) => !c.state.closed)) await Bun.sleep(100);
  expect(conns.filter((c) => !c.state.closed).length).toBe(0);
  expect(conns.filter((c) => c.state.got.startsWith("HTTP/1.1 200")).length).toBe(30);
  expect(openFiles()).toBeLessThan(before + 10);
  for (const c of conns) c.socket.end();
}, 30_000);

test("an upload whose client stopped sending is ended, and its deployment can be uploaded again", async () => {
  const page = "<h1>after a stall</h1>";
  const d = await begin("stalled", [entry("index.html", page)]);
  const tar = await makeTar([{ header: { name: "index.html" }, body: page }]);
  const { socket, state } = await connect();
  socket.write(`POST /api/upload/file HTTP/1.1\r\nHost: x\r\nX-Upload-Token: ${d.token}\r\nX-Deployment-Id: ${d.id}\r\nContent-Length: ${tar.length}\r\n\r\n`);
  socket.write(tar.slice(0, 600));
  // Before: the agent waited for the rest forever, and held the deployment (409 to every retry).
  const end = Date.now() + 10_000;
  while (Date.now() < end && !state.closed) await Bun.sleep(100);
  expect(state.closed).toBe(true);
  const again = await fetch(`${d.agent}/api/upload/file`, { method: "POST", headers: headers(d), body: tar as unknown as BodyInit });
  expect(again.status).toBe(200);
  expect(((await again.json()) as any).staged).toBe(true);
  socket.end();
}, 30_000);

test("an upload that is slow but keeps sending is never cut, however long it takes", async () => {
  const files = Array.from({ length: 8 }, (_, i) => ({ path: `part${i}.txt`, body: `part ${i} `.repeat(2000) }));
  const d = await begin("slow-but-steady", files.map((f) => entry(f.path, f.body)));
  const tar = await makeTar(files.map((f) => ({ header: { name: f.path }, body: f.body })));
  // About 8 s in all, four times the idle timeout: Bun's own timer cut such a body after 4 s.
  const pieces = 16;
  const size = Math.ceil(tar.length / pieces);
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (i >= pieces) return ctl.close();
      await Bun.sleep(500);
      ctl.enqueue(tar.slice(i * size, ++i * size));
    },
  });
  const t0 = Date.now();
  const r = await fetch(`${d.agent}/api/upload/file`, { method: "POST", headers: headers(d), body, duplex: "half" } as RequestInit);
  expect(r.status).toBe(200);
  expect(((await r.json()) as any).staged).toBe(true);
  expect(Date.now() - t0).toBeGreaterThan(6_000);
  const c = get();
  const end = Date.now() + 10_000;
  let served = "";
  while (Date.now() < end && served !== files[7]!.body) {
    served = await (await c.get(`slow-but-steady.${c.domain}`, "/part7.txt")).text();
    await Bun.sleep(100);
  }
  expect(served).toBe(files[7]!.body);
}, 30_000);

test("an init body far over the manifest's limit is refused as it arrives, not held in memory", async () => {
  const base = rssMB();
  const { socket, state } = await connect();
  const total = 300 * 1024 * 1024;
  socket.write(`POST /api/upload/init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n{"grant":"`);
  const chunk = Buffer.alloc(1024 * 1024, 97);
  let peak = base;
  for (let sent = 0; sent < total && !state.closed && !state.got; sent += chunk.length) {
    while (socket.write(chunk) === 0 && !state.closed && !state.got) await Bun.sleep(2);
    if (sent % (16 * 1024 * 1024) === 0) peak = Math.max(peak, rssMB());
  }
  const end = Date.now() + 10_000;
  while (Date.now() < end && !state.got) await Bun.sleep(50);
  peak = Math.max(peak, rssMB());
  // Before: the agent took all 300 MB into memory (its RSS grew by more than that), then answered 400.
  expect(state.got).toStartWith("HTTP/1.1 413");
  expect(peak - base).toBeLessThan(120);
  socket.end();
  // The node goes on taking deploys.
  const ok = await begin("after-big-init", [entry("index.html", "fine")]);
  expect(ok.token.length).toBeGreaterThan(0);
}, 30_000);
