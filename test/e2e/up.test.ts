import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, killNginx, start, tempDir } from "../helpers/cluster";

afterAll(cleanup);

test("sprout up starts master, agent and nginx, serves the example site, and Ctrl-C stops everything", async () => {
  const data = tempDir();
  const http = freePort();
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
    const page = await fetch(`http://127.0.0.1:${http}/`, { headers: { host: "example.localhost" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("It works.");
    const css = await fetch(`http://127.0.0.1:${http}/style.css`, { headers: { host: "example.localhost" } });
    expect(css.headers.get("content-type")).toContain("text/css");
    // The CLI is logged in as the admin afterwards, in a profile of its own that it names.
    const creds = JSON.parse(readFileSync(join(data, "cfg", "credentials.json"), "utf8"));
    expect(creds.current).toBe("local");
    expect(creds.profiles.local.email).toBe("admin@sprout.localhost");
    expect(p.output()).toContain("CLI login:     profile local (the default)");
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
