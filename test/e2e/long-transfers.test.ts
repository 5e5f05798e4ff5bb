// Long transfers through the master on a slow link. Bun's idle timer does not restart as body bytes
// come or go, so with the master's --idle-timeout (120 s by default) a browser deploy's upload was
// cut after one to two timeouts however well it progressed, and so is a large response (the binary
// the nodes download), whatever the route does: its clients resume it. Here the timeout is 2 s and
// each transfer lasts several times that.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { type Cluster, cleanup, cluster, tempDir } from "../helpers/cluster";
import { slowLink } from "../helpers/slow-link";
import { binaryName, installBinary, readSha256 } from "../../src/shared/self-upgrade";
import { VERSION } from "../../src/shared/version";
import { makeTar, sha256 } from "../helpers/tar";

let c: Cluster;
beforeAll(async () => {
  c = await cluster({ agents: 1, masterArgs: ["--idle-timeout", "2"] });
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

test("the binary's download over a slow link is cut by the master's HTTP server, and sprout upgrade and install.sh resume it to the end", async () => {
  // Bun closes a response that outlasts a few idle timeouts, however well it progresses (a known Bun
  // limitation): the clients ask again for the rest. 20 MB/s: the ~120 MB binary takes ~6 s, three
  // times the timeout.
  const link = await slowLink(Number(new URL(c.master).port), 20 * 1024 * 1024);
  try {
    const master = `http://127.0.0.1:${link.port}`;
    const name = binaryName();
    const sum = await readSha256(`${master}/download/${name}`);
    // The download the agents and `sprout upgrade` make (src/shared/self-upgrade.ts).
    const dir = tempDir();
    const target = join(dir, "sprout");
    const t0 = Date.now();
    expect(await installBinary({ url: `${master}/download/${name}`, sha256: sum }, target)).toBe(VERSION);
    expect((Date.now() - t0) / 1000).toBeGreaterThan(4);
    expect(sha256(new Uint8Array(await Bun.file(target).arrayBuffer()))).toBe(sum);
    // The installer's: it says each time it resumes.
    const script = await (await fetch(`${master}/install.sh`)).text();
    const root = tempDir("sprout-root-");
    const p = Bun.spawn(["sh", "-s", "--", "--master", master, "--root", root], { stdin: new Blob([script]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH! } });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(await p.exited, out + err).toBe(0);
    expect(err).toContain("download cut short; resuming where it stopped");
    expect(sha256(new Uint8Array(await Bun.file(join(root, "usr", "local", "bin", "sprout")).arrayBuffer()))).toBe(sum);
  } finally {
    link.close();
  }
}, 120_000);

test("a browser deploy's upload through the master, sent at 100 KB/s for several idle timeouts, is staged", async () => {
  const login = await fetch(`${c.master}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `email=${encodeURIComponent(c.admin.email)}&password=${encodeURIComponent(c.admin.password)}`,
  });
  const cookie = login.headers.getSetCookie().map((x) => x.split(";")[0]).join("; ");
  const origin = c.master;
  const file = new Uint8Array(600_000).map((_, i) => (i * 7) % 251);
  const manifest = [{ path: "big.bin", sha256: sha256(file), size: file.length }];
  const created = await fetch(`${c.master}/api/deployment`, { method: "POST", headers: { cookie, origin, "content-type": "application/json" }, body: JSON.stringify({ site: "slow-link", manifest }) });
  expect(created.status).toBe(201);
  const { deployment, upload } = (await created.json()) as any;
  const init = await fetch(`${c.master}/ui/deployments/${deployment.id}/upload/init`, {
    method: "POST",
    headers: { cookie, origin, "content-type": "application/json", "x-sprout-grant": upload.grant },
    body: JSON.stringify({ grant: upload.grant, deployment_id: deployment.id, manifest }),
  });
  expect(init.status).toBe(200);
  const { upload_token } = (await init.json()) as any;
  const tar = await makeTar([{ header: { name: "big.bin" }, body: file }]);
  // By hand over a socket: the body goes out 10 KB every 100 ms, with its length declared.
  const { hostname, port } = new URL(c.master);
  const head = [
    `POST /ui/deployments/${deployment.id}/upload/file HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    `Cookie: ${cookie}`,
    `Origin: ${origin}`,
    "Content-Type: application/x-tar",
    `Content-Length: ${tar.length}`,
    `X-Upload-Token: ${upload_token}`,
    `X-Deployment-Id: ${deployment.id}`,
    "Connection: close",
    "",
    "",
  ].join("\r\n");
  const t0 = Date.now();
  const answer = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(port), hostname, async () => {
      s.write(head);
      for (let at = 0; at < tar.length && !s.destroyed; at += 10_000) {
        s.write(tar.subarray(at, at + 10_000));
        await Bun.sleep(100);
      }
    });
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("close", () => resolve(Buffer.concat(chunks).toString()));
    s.on("error", reject);
  });
  expect((Date.now() - t0) / 1000).toBeGreaterThan(4);
  expect(answer).toStartWith("HTTP/1.1 200");
  expect(answer).toContain('"staged":true');
}, 60_000);
