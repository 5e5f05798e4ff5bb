// A tenant with upload tokens opens many uploads to one node and keeps each short of its end, sending
// nothing more (or a byte now and then). Each such stream holds memory (a file of up to 4 MB is
// gathered in memory before it is checked) and a temporary file: they are bounded per account, and
// another tenant's deploy goes through meanwhile.
import { expect, test } from "bun:test";
import { api, site, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const get = useCluster();

/** MAX: the streams one account may have in progress on a node (uploads.ts MAX_STREAMS_PER_ACCOUNT). */
const MAX = 8;

/** held starts a deployment of one 4 MB file and sends all of it but the last byte; answers how to finish it. */
async function held(token: string, i: number, siteName = "hog") {
  const c = get();
  const file = new Uint8Array(4 * 1024 * 1024).fill(i);
  const manifest = [{ path: "a.bin", sha256: sha256(file), size: file.length }];
  const r = await api(c.master, "POST", "/api/deployment", { site: siteName, production: false, manifest }, token);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  const init = await api(r.body.upload.agent_url, "POST", "/api/upload/init", { grant: r.body.upload.grant, deployment_id: r.body.deployment.id, manifest });
  expect(init.status).toBe(200);
  const tar = await makeTar([{ header: { name: "a.bin" }, body: file }]);
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (x) => void (ctl = x) });
  const answer = fetch(`${r.body.upload.agent_url}/api/upload/file`, {
    method: "POST",
    headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": r.body.deployment.id },
    body,
    duplex: "half",
  } as RequestInit);
  const cut = 512 + file.length - 1;
  ctl.enqueue(tar.slice(0, cut));
  return {
    answer,
    finish: () => {
      ctl.enqueue(tar.slice(cut));
      ctl.close();
    },
  };
}

test("one tenant's uploads in progress on a node are bounded, and another tenant deploys meanwhile", async () => {
  const c = get();
  const mallory = await c.user("hog@example.com");
  const streams = [];
  for (let i = 0; i < MAX; i++) streams.push(await held(mallory, i));
  await Bun.sleep(500);
  // One more is refused at once (before: taken, and held like the others for as long as she liked).
  const extra = await held(mallory, MAX);
  const refused = await Promise.race([extra.answer, Bun.sleep(5000).then(() => null)]);
  expect(refused?.status).toBe(429);
  expect(((await refused!.json()) as any).error.message).toContain("uploads in progress on this node");

  const other = await c.sprout(["deploy", site({ "index.html": "another tenant's page" }), "--site", "neighbour", "--prod"]);
  expect(other.code).toBe(0);
  expect(await (await c.get(`neighbour.${c.domain}`, "/")).text()).toBe("another tenant's page");

  // Her uploads finish as usual once their bytes come, and then she may start others.
  for (const s of streams) s.finish();
  for (const s of streams) expect(((await (await s.answer).json()) as any).staged).toBe(true);
  const next = await held(mallory, MAX + 1);
  next.finish();
  expect((await next.answer).status).toBe(200);
}, 60_000);

test("a deploy that finds its account's uploads at the node's bound waits for one to finish, says so, and ends live", async () => {
  const c = get();
  const busy = await c.user("busy@example.com");
  const streams = [];
  for (let i = 0; i < MAX; i++) streams.push(await held(busy, 100 + i, "busy-hog"));
  await Bun.sleep(300);
  // A CI job deploying one site more than the node takes at once from this account.
  const deploy = c.sprout(["deploy", site({ "index.html": "my turn came" }), "--site", "patient", "--prod"], { SPROUT_TOKEN: busy });
  await Bun.sleep(3000);
  for (const s of streams) s.finish();
  const r = await deploy;
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("uploads in progress on this node, the most it may have at once. Waiting for one to finish");
  expect(await (await c.get(`patient.${c.domain}`, "/")).text()).toBe("my turn came");
}, 60_000);
