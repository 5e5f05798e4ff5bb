import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, freePort, killNginx, start, tempDir } from "../helpers/cluster";

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
    const page = await fetch(`http://127.0.0.1:${http}/`, { headers: { host: "example.localhost" } });
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
