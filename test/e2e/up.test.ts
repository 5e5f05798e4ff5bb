import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, killNginx, sproutBinary, start, tempDir } from "../helpers/cluster";

afterAll(cleanup);

test("sprout up starts master, agent and nginx, serves the example site, and Ctrl-C stops everything", async () => {
  const data = tempDir();
  const http = freePort();
  // This machine is logged in to another master already: `sprout up` must not take that login's place.
  const prod = { master: "https://sprout.example.com", email: "me@example.com", access_token: "a", refresh_token: "r" };
  mkdirSync(join(data, "cfg"), { recursive: true });
  writeFileSync(join(data, "cfg", "credentials.json"), JSON.stringify({ current: "prod", profiles: { prod } }));
  const { p, match } = await start(
    "up",
    ["up", "--data", data, "--listen", `127.0.0.1:${freePort()}`, "--agent-listen", `127.0.0.1:${freePort()}`, "--http-listen", `127.0.0.1:${http}`],
    { SPROUT_CONFIG_DIR: join(data, "cfg"), SPROUT_CACHE_DIR: join(data, "cache") },
    /Example site:\s+(\S+)/,
    60_000,
  );
  try {
    expect(match[1]).toBe(`http://example.localhost:${http}`);
    expect(p.output()).toMatch(/password: \S+/);
    const page = await fetch(`http://127.0.0.1:${http}/`, { headers: { host: "example.localhost" } }).catch((e: Error) => {
      throw new Error(`${e.message}; sprout up said:\n${p.output()}`);
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("It works.");
    const css = await fetch(`http://127.0.0.1:${http}/style.css`, { headers: { host: "example.localhost" } });
    expect(css.headers.get("content-type")).toContain("text/css");
    // The CLI is logged in as the admin afterwards, in a profile of its own that it names; the
    // login to the other master stays, and stays the default.
    const creds = JSON.parse(readFileSync(join(data, "cfg", "credentials.json"), "utf8"));
    expect(creds.profiles.local.email).toBe("admin@sprout.localhost");
    expect(creds.profiles.prod).toEqual(prod);
    expect(creds.current).toBe("prod");
    expect(p.output()).toContain("CLI login:     profile local; your default stays prod (https://sprout.example.com): add --profile local to reach this one");
    const pidFile = join(data, "agent", "nginx", "nginx.pid");
    expect(existsSync(pidFile)).toBe(true);
    const nginxPid = Number(readFileSync(pidFile, "utf8"));

    p.proc.kill("SIGINT");
    expect(await p.proc.exited).toBe(0);
    expect(() => process.kill(nginxPid, 0)).toThrow();
    expect(await fetch(`http://127.0.0.1:${http}/`).catch(() => "refused")).toBe("refused");
  } finally {
    killNginx(join(data, "agent"));
  }
});

/** leftovers lists processes whose command line names `dir` (the master, the agent, their nginx). */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  for (const pid of Bun.spawnSync(["ls", "/proc"]).stdout.toString().split("\n").filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(dir) && Number(pid) !== process.pid) out.push(`${pid} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

for (const when of ["while it starts", "once it is up"] as const) {
  test(`SIGTERM ${when} stops sprout up and every process it started`, async () => {
    const data = tempDir();
    const proc = Bun.spawn(
      [sproutBinary(), "up", "--data", data, "--listen", `127.0.0.1:${freePort()}`, "--agent-listen", `127.0.0.1:${freePort()}`, "--http-listen", `127.0.0.1:${freePort()}`],
      { env: { ...process.env, SPROUT_CONFIG_DIR: join(data, "cfg"), SPROUT_CACHE_DIR: join(data, "cache") }, stdout: "pipe", stderr: "pipe" },
    );
    let out = "";
    void (async () => {
      for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
    })();
    try {
      const log = join(data, "logs", "master.log");
      const end = Date.now() + 60_000;
      // While starting: as soon as its master listens (its agent is still on the way).
      const ready = () => (when === "while it starts" ? existsSync(log) && readFileSync(log, "utf8").includes("listening on") : out.includes("Example site:"));
      while (!ready() && Date.now() < end) await Bun.sleep(20);
      expect(ready()).toBe(true);
      if (when === "while it starts") expect(out).not.toContain("Example site:");
      proc.kill("SIGTERM");
      await proc.exited;
      const gone = Date.now() + 10_000;
      while (leftovers(data).length && Date.now() < gone) await Bun.sleep(100);
      expect(leftovers(data)).toEqual([]);
    } finally {
      proc.kill("SIGKILL");
      for (const l of leftovers(data)) process.kill(Number(l.split(" ")[0]), "SIGKILL");
      killNginx(join(data, "agent"));
    }
  });
}
