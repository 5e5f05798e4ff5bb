// Version checks (operations issue): master, agents and CLIs tell each other their version and wire
// protocol on every request; a pair that cannot work together is refused with both versions named
// and what to do, never left to misread each other. Builds speaking a range of protocols stay
// compatible (a cluster is upgraded one machine at a time).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { api, buildVersion, cleanup, cluster, copyBinary, freePort, sproutBinary, start, tempDir, withBinary, type Cluster } from "../helpers/cluster";

let v5 = "";
let newMaster: Cluster;
let oldMaster: Cluster;

beforeAll(async () => {
  // 5.0.0-test speaks protocol 5 only: too new for 0.1.0 (protocol 1), and 0.1.0 too old for it.
  v5 = buildVersion("5.0.0-test", 5);
  newMaster = await withBinary(v5, () => cluster({ agents: 0 }));
  oldMaster = await cluster({ agents: 0 });
}, 120_000);
afterAll(async () => {
  await newMaster?.stop();
  await oldMaster?.stop();
  await cleanup();
});

const run = (bin: string, args: string[], c: Cluster) => {
  const r = Bun.spawnSync([bin, ...args], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH!, SPROUT_CONFIG_DIR: tempDir(), SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token, NO_COLOR: "1" } });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

test("a CLI too old for the master is refused with both versions named, and sprout upgrade fixes it", () => {
  const cli = copyBinary(sproutBinary());
  const refused = run(cli, ["sites"], newMaster);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("This CLI runs sprout 0.1.0 (protocol 1), too old for the master, which runs sprout 5.0.0-test (protocol 5)");
  expect(refused.stderr).toContain(`sprout upgrade --master ${newMaster.master}`);
  const upgraded = run(cli, ["upgrade", "--master", newMaster.master, "--no-restart"], newMaster);
  expect(upgraded.code, upgraded.stderr).toBe(0);
  expect(run(cli, ["sites"], newMaster).code).toBe(0);
}, 60_000);

test("a CLI too new for the master refuses to go on, naming both versions", () => {
  const r = run(v5, ["sites"], oldMaster);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("This CLI runs sprout 5.0.0-test (protocol 5), too new for the master, which runs sprout 0.1.0 (protocol 1)");
  expect(r.stderr).toContain("Upgrade the master");
});

test("the master refuses an agent too old for it, the agent says why and what to do, and it is never listed online", async () => {
  const created = await api(newMaster.master, "POST", "/api/agent", { name: "old-node" }, newMaster.admin.token);
  expect(created.status).toBe(201);
  const { p } = await start(
    "agent old-node",
    ["agent", "--master", newMaster.master, "--name", "old-node", "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${freePort()}`, "--data", join(newMaster.home, "agent-old-node")],
    { SPROUT_AGENT_TOKEN: created.body.token },
    /too old for the master.*/,
  );
  expect(p.output()).toContain("This agent runs sprout 0.1.0 (protocol 1), too old for the master, which runs sprout 5.0.0-test (protocol 5)");
  expect(p.output()).toContain("sprout upgrade");
  const list = await api(newMaster.master, "GET", "/api/agents", undefined, newMaster.admin.token);
  expect(list.body.find((a: any) => a.name === "old-node").status).toBe("new");
  await p.kill();
}, 60_000);

test("an agent too new for its master says to upgrade the master first", async () => {
  const created = await api(oldMaster.master, "POST", "/api/agent", { name: "new-node" }, oldMaster.admin.token);
  const { p } = await withBinary(v5, () =>
    start(
      "agent new-node",
      ["agent", "--master", oldMaster.master, "--name", "new-node", "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${freePort()}`, "--data", join(oldMaster.home, "agent-new-node")],
      { SPROUT_AGENT_TOKEN: created.body.token },
      /too new for the master.*/,
    ),
  );
  expect(p.output()).toContain("This agent runs sprout 5.0.0-test (protocol 5), too new for the master, which runs sprout 0.1.0 (protocol 1)");
  expect(p.output()).toContain("Upgrade the master first");
  await p.kill();
}, 60_000);

test("browsers and scripts without version headers are served as before, and every answer names the master's build", async () => {
  const r = await fetch(`${oldMaster.master}/api/health`);
  expect(r.status).toBe(200);
  expect(r.headers.get("x-sprout-version")).toBe("0.1.0");
  expect(r.headers.get("x-sprout-protocol")).toBe("1");
});
