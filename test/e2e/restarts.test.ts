// Restarts in the middle of work (cluster issue): a deploy whose master restarts while the CLI
// follows it still ends live and the CLI says so; a tree a crash left half-staged is removed when
// the agent starts again.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { restartAgent, site, sproutBinary, start, useCluster } from "../helpers/cluster";

const cluster = useCluster();

describe("restarts", () => {
  test("a deploy survives a master restart: the CLI waits for the master and reports the final state", async () => {
    const c = cluster();
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`page-${i}.html`] = `page ${i} `.repeat(200);
    files["index.html"] = "after the restart";
    const dir = site(files);
    const proc = Bun.spawn([sproutBinary(), "deploy", dir, "--site", "steady", "--prod", "--json"], {
      cwd: c.home,
      env: { ...process.env, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: join(c.home, "cli-cache"), SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token },
      stdout: "pipe",
      stderr: "pipe",
    });
    // Kill the master as soon as the upload starts, then start it again on the same port and data.
    let err = "";
    const reader = (async () => {
      for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
    })();
    const end = Date.now() + 30_000;
    while (!/upload|Node has/i.test(err) && Date.now() < end) await Bun.sleep(10);
    await c.masterProc.kill("SIGKILL");
    await Bun.sleep(1500);
    const port = new URL(c.master).port;
    await start("master (restarted)", ["master", "--listen", `127.0.0.1:${port}`, "--data", join(c.home, "master"), "--domain", c.domain], {}, /listening on/);
    const code = await proc.exited;
    await reader;
    const out = await new Response(proc.stdout).text();
    expect(code).toBe(0);
    expect(JSON.parse(out).status).toBe("ready");
    expect(err).toContain("master is unreachable");
    expect(await (await c.get(`steady.${c.domain}`, "/")).text()).toBe("after the restart");
  });

  test("a tree left half-staged by a crash is removed when the agent starts", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    const half = join(node.data, "sites", "steady", "deploys", "abcdef123456.tmp-0badc0de");
    mkdirSync(half, { recursive: true });
    writeFileSync(join(half, "index.html"), "half");
    await node.p.kill("SIGKILL");
    await restartAgent(c, 0);
    expect(existsSync(half)).toBe(false);
    expect(await (await c.get(`steady.${c.domain}`, "/")).text()).toBe("after the restart");
  });
});
