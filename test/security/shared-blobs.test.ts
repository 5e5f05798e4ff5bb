// Blobs are content-addressed and shared between accounts: a file many sites carry (a library's
// release, whose bytes and digest anyone can know) is one blob on a node. These tests are a tenant who
// uploads such a file and then a bad entry, at the moment another tenant uploads the same file: the
// bad upload is refused, and the other tenant's deploy must not notice.
import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { api, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const get = useCluster();

type Entry = { path: string; sha256: string; size: number };
const entry = (path: string, body: string | Uint8Array): Entry => ({ path, sha256: sha256(body), size: typeof body === "string" ? Buffer.byteLength(body) : body.length });
const sorted = (m: Entry[]) => [...m].sort((a, b) => (a.path < b.path ? -1 : 1));

/** begin creates a deployment, passes init, and answers what its uploads need. */
async function begin(token: string, site: string, manifest: Entry[]) {
  const c = get();
  const r = await api(c.master, "POST", "/api/deployment", { site, production: true, manifest: sorted(manifest) }, token);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  const d = { id: r.body.deployment.id as string, agent: r.body.upload.agent_url as string };
  const i = await api(d.agent, "POST", "/api/upload/init", { grant: r.body.upload.grant, deployment_id: d.id, manifest: sorted(manifest) });
  expect(i.status).toBe(200);
  return { ...d, token: i.body.upload_token as string };
}

/** stream starts POST /api/upload/file with a body the test writes piece by piece. */
function stream(d: { id: string; agent: string; token: string }) {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const answer = fetch(`${d.agent}/api/upload/file`, { method: "POST", headers: { "x-upload-token": d.token, "x-deployment-id": d.id }, body, duplex: "half" } as RequestInit);
  return { send: (b: Uint8Array) => ctl.enqueue(b), end: () => ctl.close(), answer };
}

/** entryBytes: the tar bytes of one entry (header, body, padding), for sending an archive in parts. */
const entryBytes = async (path: string, body: string | Uint8Array) => (await makeTar([{ header: { name: path }, body }])).slice(0, -1024);
const END = new Uint8Array(1024);

async function until(what: string, ok: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

async function waitReady(token: string, id: string) {
  const c = get();
  const end = Date.now() + 20_000;
  let info: any;
  while (Date.now() < end) {
    info = (await api(c.master, "GET", `/api/deployment/${id}`, undefined, token)).body;
    if (info.status === "ready" || info.status === "failed") break;
    await Bun.sleep(100);
  }
  return info?.status;
}

test("a bad upload of a public file does not remove it under another tenant uploading it at that moment", async () => {
  const c = get();
  const node = c.nodes[0]!;
  const mallory = await c.user("mallory-stream@example.com");
  const lib = `/*! popular-lib 4.2.0 ${crypto.randomUUID()} */ export const x = 1;\n`;
  const big = randomBytes(5 * 1024 * 1024);

  // Mallory's upload sends the public file, then waits.
  const evil = await begin(mallory, "evil-stream", [entry("lib.js", lib), entry("z.txt", "the real z")]);
  const attack = stream(evil);
  attack.send(await entryBytes("lib.js", lib));
  await until("mallory's copy of the library", () => existsSync(join(node.data, "blobs", sha256(lib).slice(0, 2), sha256(lib))));

  // The victim's upload sends the same file, and is still streaming a large one after it.
  const victim = await begin(c.admin.token, "victim-stream", [entry("lib.js", lib), entry("big.bin", big)]);
  const upload = stream(victim);
  const bigEntry = await entryBytes("big.bin", big);
  upload.send(await entryBytes("lib.js", lib));
  upload.send(bigEntry.slice(0, 1024 * 1024));
  // The large file streams to a temporary file: the node is past lib.js.
  const tmp = join(node.data, "tmp");
  await until("the victim's large file on its way", () => readdirSync(tmp).some((f) => statSync(join(tmp, f)).size > 0));

  // Mallory's next entry is bad: her upload is refused...
  attack.send(await entryBytes("z.txt", "the fake z"));
  attack.end();
  const refused = await attack.answer;
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as any).error.code).toBe("digest_mismatch");

  // ...and the victim's goes through, serving the library.
  upload.send(bigEntry.slice(1024 * 1024));
  upload.send(END);
  upload.end();
  const done = await upload.answer;
  const answer = (await done.json()) as any;
  expect(done.status).toBe(200);
  expect(answer.staged).toBe(true);
  expect(await waitReady(c.admin.token, victim.id)).toBe("ready");
  expect(await (await c.get(`victim-stream.${c.domain}`, "/lib.js")).text()).toBe(lib);
}, 60_000);

test("a bad upload of a public file does not remove it from a tenant whose upload resumes later", async () => {
  const c = get();
  const mallory = await c.user("mallory-resume@example.com");
  const lib = `/*! popular-lib 5.0.0 ${crypto.randomUUID()} */ export const y = 2;\n`;

  const evil = await begin(mallory, "evil-resume", [entry("lib.js", lib), entry("z.txt", "the real z")]);
  const attack = stream(evil);
  attack.send(await entryBytes("lib.js", lib));
  const node = c.nodes[0]!;
  await until("mallory's copy of the library", () => existsSync(join(node.data, "blobs", sha256(lib).slice(0, 2), sha256(lib))));

  // The victim's first request sends the library and is cut short of the rest (as a dropped
  // connection would): the node keeps what verified, for the next request.
  const victim = await begin(c.admin.token, "victim-resume", [entry("lib.js", lib), entry("index.html", "home")]);
  const first = await fetch(`${victim.agent}/api/upload/file`, { method: "POST", headers: { "x-upload-token": victim.token, "x-deployment-id": victim.id }, body: (await makeTar([{ header: { name: "lib.js" }, body: lib }])) as unknown as BodyInit });
  expect(((await first.json()) as any).staged).toBe(false);

  attack.send(await entryBytes("z.txt", "the fake z"));
  attack.end();
  expect((await attack.answer).status).toBe(400);

  // The rest: the deployment is staged with the library the victim sent before.
  const rest = await fetch(`${victim.agent}/api/upload/file`, { method: "POST", headers: { "x-upload-token": victim.token, "x-deployment-id": victim.id }, body: (await makeTar([{ header: { name: "index.html" }, body: "home" }])) as unknown as BodyInit });
  const answer = (await rest.json()) as any;
  expect(rest.status).toBe(200);
  expect(answer.staged).toBe(true);
  expect(await waitReady(c.admin.token, victim.id)).toBe("ready");
  expect(await (await c.get(`victim-resume.${c.domain}`, "/lib.js")).text()).toBe(lib);
}, 60_000);
