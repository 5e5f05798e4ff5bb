// Upgrades (operations issue): the master goes first (here it already runs the new build), then
// `sprout agents upgrade` brings every node to the master's binary one at a time: each node fetches
// it from the master's /download, checks its SHA-256, renames it over its own and restarts, and the
// next node is told only once it is back and ready, so the site's other replica serves meanwhile.
// `sprout upgrade` does the same for one machine's binary.
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { addGateway, api, buildVersion, type Gateway, cleanup, cluster, copyBinary, freePort, killByPidFile, killNginx, site, sproutBinary, withBinary, type Cluster } from "../helpers/cluster";

const NEW = "9.9.9-test";
let c: Cluster | undefined;
let gw: Gateway | undefined;

afterAll(async () => {
  // Upgraded agents are processes the helpers did not start: end them by their pid files.
  for (const n of c?.nodes ?? []) await killByPidFile(n.data);
  if (gw) await killByPidFile(gw.data);
  await c?.stop();
  await cleanup();
});

const versions = async (cl: Cluster) =>
  Object.fromEntries((await api(cl.master, "GET", "/api/agents", undefined, cl.admin.token)).body.map((a: any) => [a.name, a.version]));
const versionOf = (bin: string) => Bun.spawnSync([bin, "--version"], { stdout: "pipe" }).stdout.toString().trim();

test("sprout agents upgrade --drain brings each node, then the gateway, to the master's version, one at a time, while every site stays served", async () => {
  const newer = buildVersion(NEW);
  const older = sproutBinary();
  // The master was upgraded first; each node has its own copy of the old binary, as machines do.
  c = await withBinary(newer, () => cluster({ agents: 0 }));
  const cl = c;
  const bins = [copyBinary(older), copyBinary(older)];
  for (const [i, bin] of bins.entries()) await withBinary(bin, () => cl.addAgent(`up${i + 1}`));
  bins.push(copyBinary(older));
  gw = await withBinary(bins[2]!, () => addGateway(cl, "gw1"));
  expect(await versions(cl)).toEqual({ up1: "0.1.0", up2: "0.1.0", gw1: "0.1.0" });
  expect((await cl.sprout(["deploy", site({ "index.html": "still here" }), "--site", "rolling", "--prod"])).code).toBe(0);
  for (const n of cl.nodes) expect(await (await cl.get(`rolling.${cl.domain}`, "/", n)).text()).toBe("still here");
  // A one-replica site lives on one node: draining that node first copies it to the other.
  expect((await cl.sprout(["sites", "create", "single", "--replicas", "1"])).code).toBe(0);
  expect((await cl.sprout(["deploy", site({ "index.html": "only one copy" }), "--site", "single", "--prod"])).code).toBe(0);
  const servingSingle = async () => (await Promise.all(cl.nodes.map((n) => cl.get(`single.${cl.domain}`, "/", n).then((r) => r.status)))).filter((x) => x === 200).length;
  expect(await servingSingle()).toBe(1);

  // A visitor asks both nodes for both sites again and again during the upgrade: at no moment may
  // all of a site's answers fail.
  let rounds = 0;
  const dark: string[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      for (const name of ["rolling", "single"]) {
        const ok = await Promise.all(cl.nodes.map((n) => cl.get(`${name}.${cl.domain}`, "/", n, { signal: AbortSignal.timeout(3000) }).then((r) => r.status === 200, () => false)));
        if (!ok.some(Boolean)) dark.push(`${name} in round ${rounds}`);
      }
      rounds++;
      await Bun.sleep(100);
    }
  })();
  const up = await cl.sprout(["agents", "upgrade", "--drain"]);
  polling = false;
  await poller;
  expect(up.code, up.stderr).toBe(0);
  expect(up.stdout).toContain(`runs sprout ${NEW}`);
  // Progress named each node's step; the second began only after the first was back.
  expect(up.stderr).toContain("up1 (node): runs 9.9.9-test, ready");
  expect(up.stderr.indexOf("up1 (node): runs 9.9.9-test, ready")).toBeLessThan(up.stderr.indexOf("up2 (node): upgrading"));
  expect(up.stderr.indexOf("up2 (node): runs 9.9.9-test, ready")).toBeLessThan(up.stderr.indexOf("gw1 (gateway): upgrading"));
  expect(rounds).toBeGreaterThan(5);
  expect(dark).toEqual([]);

  expect(await versions(cl)).toEqual({ up1: NEW, up2: NEW, gw1: NEW });
  // Draining its node gave the one-replica site a copy on the other node; both are back in service.
  expect(await servingSingle()).toBe(2);
  expect((await api(cl.master, "GET", "/api/agents", undefined, cl.admin.token)).body.filter((a: any) => a.draining)).toEqual([]);
  for (const bin of bins) {
    expect(versionOf(bin)).toBe(`sprout ${NEW}`);
    expect(existsSync(`${bin}.previous`)).toBe(true);
  }
  // The upgraded nodes serve the site, and take new deploys.
  expect((await cl.sprout(["deploy", site({ "index.html": "after the upgrade" }), "--site", "rolling", "--prod"])).code).toBe(0);
  for (const n of cl.nodes) expect(await (await cl.get(`rolling.${cl.domain}`, "/", n)).text()).toBe("after the upgrade");
  // The upgraded gateway routes visitors to them.
  let viaGateway = "";
  const end = Date.now() + 20_000;
  while (viaGateway !== "after the upgrade" && Date.now() < end) {
    viaGateway = await fetch(`${gw!.httpUrl}/`, { headers: { host: `rolling.${cl.domain}` } }).then((r) => r.text(), () => "");
    await Bun.sleep(200);
  }
  expect(viaGateway).toBe("after the upgrade");
  // Running it again finds nothing to do.
  const again = await cl.sprout(["agents", "upgrade", "--json"]);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout).steps.map((s: any) => s.status)).toEqual(["current", "current", "current"]);
  // The audit log names who started each.
  const audit = await api(cl.master, "GET", "/api/audit?action=agent.upgrade", undefined, cl.admin.token);
  expect(audit.body.map((e: any) => e.user)).toEqual([cl.admin.email, cl.admin.email]);
}, 240_000);

test("sprout upgrade replaces this machine's binary with the master's, checked, and says when it already is", async () => {
  const cl = c!;
  const bin = copyBinary(sproutBinary());
  expect(versionOf(bin)).toBe("sprout 0.1.0");
  const r = Bun.spawnSync([bin, "upgrade", "--master", cl.master, "--no-restart"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH!, SPROUT_CONFIG_DIR: join(cl.home, "cli-config") } });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  expect(r.stdout.toString()).toContain(`sprout 0.1.0 -> ${NEW}`);
  expect(versionOf(bin)).toBe(`sprout ${NEW}`);
  const again = Bun.spawnSync([bin, "upgrade", "--master", cl.master], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH!, SPROUT_CONFIG_DIR: join(cl.home, "cli-config") } });
  expect(again.exitCode).toBe(0);
  expect(again.stdout.toString()).toContain(`already the master's sprout ${NEW}`);
}, 60_000);

test("a rolling upgrade stops at a node that cannot replace its binary and says why", async () => {
  const cl = c!;
  // An agent run from source (bun src/main.ts) has no binary of its own to replace.
  const created = await api(cl.master, "POST", "/api/agent", { name: "fromsource" }, cl.admin.token);
  const data = join(cl.home, "agent-fromsource");
  const agent = Bun.spawn(["bun", join(import.meta.dir, "..", "..", "src", "main.ts"), "agent", "--master", cl.master, "--name", "fromsource", "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${freePort()}`, "--data", data], {
    env: { ...process.env, SPROUT_AGENT_TOKEN: created.body.token },
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    const end = Date.now() + 30_000;
    while (Date.now() < end && (await versions(cl)).fromsource !== "0.1.0") await Bun.sleep(200);
    const r = await cl.sprout(["agents", "upgrade", "--timeout", "60"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("fromsource: it runs from source");
    expect(r.stdout).toContain("The rollout stopped there");
    expect(await versions(cl)).toMatchObject({ up1: NEW, up2: NEW, gw1: NEW, fromsource: "0.1.0" });
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
    killNginx(data);
  }
}, 90_000);
