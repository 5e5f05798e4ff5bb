// The agent keeps each upload's record (uploads/<deployment>.upload: a JSON line, then the manifest's
// canonical text) until the deployment is staged, so an upload survives the agent being killed between
// its two steps. These tests kill the agent there, as an operator or a crash would.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, killNginx, restartAgent, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const T = 120_000;
const cl = useCluster();

/** begin creates a deployment of `files` and runs the agent's init, as the CLI does before it uploads. */
async function begin(site: string, files: Record<string, string>) {
  const c = cl();
  const manifest = Object.entries(files)
    .map(([path, body]) => ({ path, sha256: sha256(body), size: Buffer.byteLength(body) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const r = await api(c.master, "POST", "/api/deployment", { site, production: true, manifest }, c.admin.token);
  expect(r.status).toBe(201);
  const d = { id: r.body.deployment.id as string, agentUrl: r.body.upload.agent_url as string };
  const i = await api(d.agentUrl, "POST", "/api/upload/init", { grant: r.body.upload.grant, deployment_id: d.id, manifest });
  expect(i.status).toBe(200);
  const tar = await makeTar(Object.entries(files).map(([name, body]) => ({ header: { name }, body })));
  const record = join(c.nodes[0]!.data, "uploads", `${d.id}.upload`);
  expect(existsSync(record)).toBe(true);
  return { d, token: i.body.upload_token as string, tar, record, manifest };
}

async function killAgent() {
  const c = cl();
  await c.nodes[0]!.p.kill("SIGKILL");
  killNginx(c.nodes[0]!.data);
}

const send = (d: { id: string; agentUrl: string }, token: string, tar: Uint8Array) =>
  fetch(`${d.agentUrl}/api/upload/file`, { method: "POST", headers: { "x-upload-token": token, "x-deployment-id": d.id }, body: tar as unknown as BodyInit });

const files = (tag: string) => ({ "index.html": `home ${tag}`, "a/b.txt": `b ${tag}`, "a.b": `dot ${tag}`, "ünïcode/ファイル.txt": `u ${tag}` });

test("an agent killed between init and upload resumes the upload from its record after it restarts", async () => {
  const c = cl();
  const { d, token, tar, record } = await begin("record-resume", files("resume"));
  await killAgent();
  await restartAgent(c, 0);
  const up = await send(d, token, tar);
  expect(up.status).toBe(200);
  expect(((await up.json()) as { staged: boolean }).staged).toBe(true);
  expect(existsSync(record)).toBe(false);
  const end = Date.now() + 30_000;
  let body = "";
  while (Date.now() < end && body !== "u resume") {
    body = await (await c.get(`record-resume.${c.domain}`, "/ünïcode/ファイル.txt")).text().catch(() => "");
    await Bun.sleep(200);
  }
  expect(body).toBe("u resume");
}, T);

test("an upload record written by an earlier version (all JSON) is still resumed, then removed", async () => {
  const c = cl();
  const { d, token, tar, record, manifest } = await begin("record-legacy", files("legacy"));
  await killAgent();
  const text = readFileSync(record, "utf8");
  const head = JSON.parse(text.slice(0, text.indexOf("\n")));
  const legacy = join(c.nodes[0]!.data, "uploads", `${d.id}.json`);
  writeFileSync(legacy, JSON.stringify({ ...head, manifest }));
  rmSync(record);
  await restartAgent(c, 0);
  const up = await send(d, token, tar);
  expect(up.status).toBe(200);
  expect(((await up.json()) as { staged: boolean }).staged).toBe(true);
  expect(readdirSync(join(c.nodes[0]!.data, "uploads"))).toEqual([]);
}, T);

test("an upload record cut short by a crash is never used: the upload is refused and asks for init again", async () => {
  const c = cl();
  const { d, token, tar, record } = await begin("record-cut", files("cut"));
  await killAgent();
  const text = readFileSync(record, "utf8");
  // Cut within the manifest's lines: the entries before the cut would still read as a manifest.
  writeFileSync(record, text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1));
  await restartAgent(c, 0);
  const up = await send(d, token, tar);
  expect(up.status).toBe(409);
  expect(((await up.json()) as { error: { code: string } }).error.code).toBe("no_upload");
}, T);
