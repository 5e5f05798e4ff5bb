// A node whose disk fills up (cluster issue, item 4): the deploy fails with "node NAME is out of disk",
// the agent keeps running, what the failed upload wrote is removed, and the agent restarts on a full
// disk. The node's data folder is a small tmpfs, mounted for this file (tests run as root).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, statfsSync, writeFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { api, cleanup, cluster, killNginx, site, start, type Cluster, type Node } from "../helpers/cluster";

let c: Cluster;
let node: Node;
let mountPoint = "";
let mounted = false;

beforeAll(async () => {
  c = await cluster({ agents: 0 });
  mountPoint = join(c.home, "agent-full");
  mkdirSync(mountPoint, { recursive: true });
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0755", "tmpfs", mountPoint], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    console.warn(`disk-full tests skipped: cannot mount a tmpfs (${r.stderr.toString().trim()}); they need root`);
    return;
  }
  mounted = true;
  node = await c.addAgent("full");
}, 60_000);

afterAll(async () => {
  await c?.stop();
  if (mounted) Bun.spawnSync(["umount", "-l", mountPoint]);
  await cleanup();
});

const free = () => Number(statfsSync(mountPoint).bavail) * Number(statfsSync(mountPoint).bsize);
/** fillTo leaves about `leave` bytes free on the node's disk (in one filler file). */
function fillTo(leave: number) {
  const filler = join(mountPoint, "filler");
  rmSync(filler, { force: true });
  const n = Math.max(0, free() - leave);
  writeFileSync(filler, Buffer.alloc(n));
  // tmpfs counts pages: write more until the target is met or the disk refuses.
  try {
    while (free() > leave + 8192) writeFileSync(join(mountPoint, `filler-${randomBytes(3).toString("hex")}`), Buffer.alloc(4096));
  } catch {
    /* full */
  }
}
function unfill() {
  for (const f of readdirSync(mountPoint)) if (f.startsWith("filler")) rmSync(join(mountPoint, f), { force: true });
}
const blobCount = () => {
  const root = join(node.data, "blobs");
  return readdirSync(root).reduce((n, d) => n + readdirSync(join(root, d)).length, 0);
};
const tmpFiles = () => readdirSync(join(node.data, "tmp"));
const alive = async () => (await api(node.url, "GET", "/api/heartbeat")).status === 200 && node.p.proc.exitCode === null;

describe("a node out of disk", () => {
  test("a file over 4 MB that does not fit fails the deploy with 'out of disk'; the agent keeps running and keeps nothing of it", async () => {
    if (!mounted) return;
    expect((await c.sprout(["deploy", site({ "index.html": "before" }), "--site", "roomy", "--prod"])).code).toBe(0);
    const blobsBefore = blobCount();
    fillTo(2 * 1024 * 1024);
    try {
      const r = await c.sprout(["deploy", site({ "index.html": "big", "big.bin": randomBytes(5 * 1024 * 1024) }), "--site", "roomy", "--prod"]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/node full is out of disk/i);
      expect(await alive()).toBe(true);
      expect(tmpFiles()).toEqual([]);
      expect(blobCount()).toBe(blobsBefore);
      const list = (await api(c.master, "GET", "/api/site/roomy/deployments", undefined, c.admin.token)).body;
      const failed = (Array.isArray(list) ? list : []).find((d: any) => d.status === "failed");
      expect(failed?.error ?? "").toMatch(/out of disk/i);
      expect(await (await c.get(`roomy.${c.domain}`, "/", node)).text()).toBe("before");
    } finally {
      unfill();
    }
  });

  test("many small files that do not fit fail the same way and leave nothing behind", async () => {
    if (!mounted) return;
    const blobsBefore = blobCount();
    fillTo(1024 * 1024);
    try {
      const files: Record<string, Uint8Array> = {};
      for (let i = 0; i < 40; i++) files[`f${i}.bin`] = randomBytes(60 * 1024);
      const r = await c.sprout(["deploy", site({ "index.html": "small ones", ...files }), "--site", "roomy", "--prod"]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/node full is out of disk/i);
      expect(await alive()).toBe(true);
      expect(tmpFiles()).toEqual([]);
      expect(blobCount()).toBe(blobsBefore);
    } finally {
      unfill();
    }
    // Space is back: the same deploy goes through.
    const ok = await c.sprout(["deploy", site({ "index.html": "after" }), "--site", "roomy", "--prod"]);
    if (ok.code !== 0) console.log(ok.stdout, ok.stderr, c.logs().slice(-4000));
    expect(ok.code).toBe(0);
    expect(await (await c.get(`roomy.${c.domain}`, "/", node)).text()).toBe("after");
  });

  test("an agent killed on a full disk starts again, removes its temporary files, and serves", async () => {
    if (!mounted) return;
    // A temporary file an interrupted upload left, then a disk with no byte left.
    writeFileSync(join(node.data, "tmp", "up-leftover"), randomBytes(256 * 1024));
    fillTo(0);
    expect(free()).toBeLessThan(16 * 1024);
    await node.p.kill("SIGKILL");
    killNginx(node.data);
    try {
      const httpPort = new URL(node.httpUrl).port;
      const { p } = await start(
        "agent full (restarted)",
        ["agent", "--master", c.master, "--name", "full", "--listen", new URL(node.url).host, "--http-listen", `127.0.0.1:${httpPort}`, "--data", node.data],
        { SPROUT_AGENT_TOKEN: node.token },
        /nginx serving on/,
      );
      node.p = p;
      expect(existsSync(join(node.data, "tmp", "up-leftover"))).toBe(false);
      expect(await (await c.get(`roomy.${c.domain}`, "/", node)).text()).toBe("after");
    } finally {
      unfill();
    }
  });
});
