// Cancelling a deployment in progress (POST /api/site/:name/cancel), over real HTTP against the
// compiled binary, a real agent and nginx: a cancelled deployment never goes live, even when its
// upload finishes afterwards; only the owner (with a token allowed to change that site) may cancel.
import { expect, test } from "bun:test";
import { api, useCluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const c = useCluster();

/** started creates a production deployment of `body` as index.html and answers it with its grant, nothing uploaded. */
async function started(siteName: string, body: string, token = c().admin.token) {
  const manifest = [{ path: "index.html", sha256: sha256(body), size: Buffer.byteLength(body) }];
  const r = await api(c().master, "POST", "/api/deployment", { site: siteName, production: true, manifest }, token);
  expect(r.status).toBe(201);
  return { ...r.body, manifest, body } as { deployment: { id: string }; upload: { agent_url: string; grant: string }; manifest: unknown[]; body: string };
}

/** upload sends the deployment's files to its node as the CLI does; answers the node's status codes. */
async function upload(d: Awaited<ReturnType<typeof started>>) {
  const init = await api(d.upload.agent_url, "POST", "/api/upload/init", { grant: d.upload.grant, deployment_id: d.deployment.id, manifest: d.manifest });
  if (init.status !== 200) return [init.status];
  const tar = await makeTar([{ header: { name: "index.html" }, body: d.body }]);
  const sent = await fetch(`${d.upload.agent_url}/api/upload/file`, {
    method: "POST",
    headers: { "content-type": "application/x-tar", "x-upload-token": init.body.upload_token, "x-deployment-id": d.deployment.id },
    body: new Blob([tar as Uint8Array<ArrayBuffer>]),
  });
  return [init.status, sent.status];
}

const info = async (id: string) => (await api(c().master, "GET", `/api/deployment/${id}`, undefined, c().admin.token)).body;
const cancel = (siteName: string, id: string, token = c().admin.token) => api(c().master, "POST", `/api/site/${siteName}/cancel`, { deployment_id: id }, token);

async function waitFor(f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await Bun.sleep(100);
  }
  throw new Error(`not reached within ${ms} ms:\n${c().logs()}`);
}

test("a cancelled deployment never goes live, even when its upload finishes afterwards; the earlier production stays", async () => {
  const v1 = await started("cancelme", "v1");
  await upload(v1);
  await waitFor(async () => (await info(v1.deployment.id)).is_production === true);

  const v2 = await started("cancelme", "v2 must never be served");
  const r = await cancel("cancelme", v2.deployment.id);
  expect(r.status).toBe(200);
  expect(r.body.status).toBe("failed");
  expect(r.body.error).toBe("Cancelled");
  const log = await info(v2.deployment.id);
  expect(log.events.map((e: { message: string }) => e.message)).toContain(`Cancelled by ${c().admin.email}.`);
  // The CLI (or a script) still holding the grant finishes the upload: nothing moves.
  await upload(v2);
  await Bun.sleep(1500);
  const after = await info(v2.deployment.id);
  expect(after.status).toBe("failed");
  expect(after.is_production).toBe(false);
  expect(await (await c().get(`cancelme.${c().domain}`, "/")).text()).toBe("v1");
  // A second cancel (a double click) changes nothing and is not an error.
  expect((await cancel("cancelme", v2.deployment.id)).body.status).toBe("failed");
  // The audit log names it.
  const audit = await api(c().master, "GET", "/api/audit?action=deployment.cancel", undefined, c().admin.token);
  expect(audit.body[0]).toMatchObject({ action: "deployment.cancel", target: "cancelme", user: c().admin.email });
});

test("a deployment that is already live cannot be cancelled: the answer says to roll back", async () => {
  const v = await started("livesite", "live");
  await upload(v);
  await waitFor(async () => (await info(v.deployment.id)).is_production === true);
  const r = await cancel("livesite", v.deployment.id);
  expect(r.status).toBe(409);
  expect(r.body.error.code).toBe("not_running");
  expect(r.body.error.hint).toContain("sprout rollback --site livesite");
});

test("only the owner cancels: another account gets 404, a read-only token or one for other sites 403, and a deployment named under another site 404", async () => {
  const d = await started("guarded", "guarded");
  const eve = await c().user("eve@example.com");
  expect((await cancel("guarded", d.deployment.id, eve)).status).toBe(404);
  const token = async (scope: string, sites?: string[]) =>
    (await api(c().master, "POST", "/api/tokens", { name: `t-${scope}-${sites?.join() ?? "all"}`, scope, ...(sites ? { sites } : {}) }, c().admin.token)).body.token as string;
  expect((await cancel("guarded", d.deployment.id, await token("read"))).status).toBe(403);
  expect((await cancel("guarded", d.deployment.id, await token("deploy", ["elsewhere"]))).status).toBe(403);
  // The id of a deployment of another site of the same owner is not found under this one.
  await started("elsewhere", "x");
  expect((await cancel("elsewhere", d.deployment.id)).status).toBe(404);
  expect((await info(d.deployment.id)).status).toBe("pending");
  // A token limited to this site may cancel it.
  expect((await cancel("guarded", d.deployment.id, await token("deploy", ["guarded"]))).body.status).toBe("failed");
});
