// Backup and restore (operations issue): a backup taken while the master runs, restored into a
// fresh master folder, brings back the same users, tokens, sites and deployments, and the nodes
// converge to it, even when they served newer deployments than the backup knows.
import { expect, test } from "bun:test";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { api, site, sproutBinary, start, useCluster } from "../helpers/cluster";

const cluster = useCluster({ agents: 1, masterArgs: ["--offline-after", "3"] });

const run = (args: string[]) => {
  const r = Bun.spawnSync([sproutBinary(), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
};

test("backup while running, restore into a fresh folder: users, tokens, sites work and nodes converge", async () => {
  const c = cluster();
  const deploy = async (body: string) => {
    const r = await c.sprout(["deploy", site({ "index.html": body }), "--site", "kept", "--prod", "--json"]);
    if (r.code !== 0) throw new Error(r.stdout + r.stderr);
  };
  await deploy("v1");
  const token = await c.sprout(["tokens", "create", "ci", "--json"]);
  const apiToken = JSON.parse(token.stdout).token as string;
  const userToken = await c.user("friend@example.com");
  expect(userToken).toBeTruthy();

  const masterData = join(c.home, "master");
  const file = join(c.home, "backups", "b1.db");
  const b = run(["master", "backup", file, "--data", masterData]);
  expect(b.code).toBe(0);
  expect(statSync(file).mode & 0o077).toBe(0);
  expect(run(["master", "backup", file, "--data", masterData]).code).toBe(1); // never overwrites

  // After the backup: one more production deploy the backup does not know.
  await deploy("v2 after the backup");

  await c.masterProc.kill("SIGTERM");
  rmSync(masterData, { recursive: true, force: true });
  const r = run(["master", "restore", file, "--data", masterData]);
  expect(r.code).toBe(0);
  expect(existsSync(join(masterData, "sprout.db"))).toBe(true);
  const port = new URL(c.master).port;
  await start("master (restored)", ["master", "--listen", `127.0.0.1:${port}`, "--data", masterData, "--domain", c.domain, "--offline-after", "3"], {}, /listening on/);

  // Users log in, API tokens work, the site is there with its deployments.
  expect((await api(c.master, "POST", "/api/user/token", { email: c.admin.email, password: c.admin.password })).status).toBe(200);
  expect((await api(c.master, "GET", "/api/sites", undefined, apiToken)).status).toBe(200);
  expect((await api(c.master, "POST", "/api/user/token", { email: "friend@example.com", password: "another password" })).status).toBe(200);
  const login = await api(c.master, "POST", "/api/user/token", { email: c.admin.email, password: c.admin.password });
  const admin = login.body.access_token as string;
  const deployments = await api(c.master, "GET", "/api/site/kept/deployments", undefined, admin);
  expect(deployments.body.length).toBe(1);

  // The node converges to the restored record (v1), then takes a new deploy.
  const node = c.nodes[0]!;
  const served = async () => (await (await c.get(`kept.${c.domain}`, "/", node)).text());
  const end = Date.now() + 30_000;
  while ((await served()) !== "v1" && Date.now() < end) await Bun.sleep(250);
  expect(await served()).toBe("v1");
  const v3 = await c.sprout(["deploy", site({ "index.html": "v3" }), "--site", "kept", "--prod", "--json"], { SPROUT_TOKEN: admin });
  expect(v3.code).toBe(0);
  expect(await served()).toBe("v3");
});

test("restore refuses a file that is not a Sprout backup", () => {
  const c = cluster();
  const bogus = join(c.home, "bogus.db");
  Bun.write(bogus, "not a database");
  const r = run(["master", "restore", bogus, "--data", join(c.home, "other-master")]);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/not a Sprout master backup|file is not a database/);
});
