// One master per database, one agent per data folder, one server per port: an operator who starts
// a second `sprout master` or `sprout agent` by mistake (by hand beside the service, or a restore
// while it runs) gets a clear refusal, and the running one goes on undisturbed.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { api, freePort, site, sproutBinary, tempDir, useCluster } from "../helpers/cluster";

const cluster = useCluster({ agents: 1 });

/** run starts `sprout args` and answers how it ended within `ms` (null: still running, then killed). */
async function run(args: string[], env: Record<string, string> = {}, ms = 15_000) {
  const p = Bun.spawn([sproutBinary(), ...args], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ended = await Promise.race([p.exited, Bun.sleep(ms).then(() => null)]);
  if (ended === null) p.kill("SIGKILL");
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: ended, out: out + err };
}

test("a second master on the same data folder is refused and the first goes on", async () => {
  const c = cluster();
  const r = await run(["master", "--listen", `127.0.0.1:${freePort()}`, "--data", join(c.home, "master"), "--domain", c.domain]);
  expect(r.code).toBe(1);
  expect(r.out).toContain("Another master runs on this data folder (--data).");
  expect(r.out).toContain("hint: Stop it first");
  // A restore under the running master is refused the same way.
  const backup = join(tempDir(), "b.db");
  expect((await run(["master", "backup", backup, "--data", join(c.home, "master")])).code).toBe(0);
  const restore = await run(["master", "restore", backup, "--data", join(c.home, "master")]);
  expect(restore.code).toBe(1);
  expect(restore.out).toContain("Another master runs on this data folder");
  expect((await api(c.master, "GET", "/api/sites", undefined, c.admin.token)).status).toBe(200);
});

test("a second master on a port in use fails, and every request still reaches the first", async () => {
  const c = cluster();
  const port = new URL(c.master).port;
  // Before, Elysia's default SO_REUSEPORT let it share the port: the kernel then sent some of the
  // connections to the second master, which knows no admin and no site.
  const r = await run(["master", "--listen", `127.0.0.1:${port}`, "--data", tempDir(), "--domain", c.domain]);
  expect(r.code).not.toBeNull();
  expect(r.code).not.toBe(0);
  expect(r.out).toContain("in use");
  for (let i = 0; i < 30; i++) expect((await api(c.master, "GET", "/api/sites", undefined, c.admin.token)).status).toBe(200);
});

test("a second agent on the same data folder is refused and leaves the first one's nginx serving", async () => {
  const c = cluster();
  const d = await c.sprout(["deploy", site({ "index.html": "still here" }), "--site", "one-agent", "--prod"]);
  expect(d.code).toBe(0);
  const node = c.nodes[0]!;
  const r = await run(["agent", "--master", c.master, "--name", node.name, "--listen", `127.0.0.1:${freePort()}`, "--http-listen", `127.0.0.1:${freePort()}`, "--data", node.data], { SPROUT_AGENT_TOKEN: node.token });
  expect(r.code).toBe(1);
  expect(r.out).toContain("Another agent runs on this data folder (--data).");
  expect(await (await c.get(`one-agent.${c.domain}`, "/")).text()).toBe("still here");
  // And the first agent still takes deploys.
  const again = await c.sprout(["deploy", site({ "index.html": "and deploys" }), "--site", "one-agent", "--prod"]);
  expect(again.code).toBe(0);
  expect(await (await c.get(`one-agent.${c.domain}`, "/")).text()).toBe("and deploys");
});
