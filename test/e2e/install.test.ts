// One-line node install served by the master (operations issue): `curl MASTER/install.sh | sh -s --
// --token ...` downloads the binary from the master, checks it, writes the agent's settings (token
// in a 0600 env file) and unit, and the node it sets up joins and serves. The test installs under a
// private --root, so it never touches the machine's /etc, users or systemd.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { api, freePort, killNginx, site, tempDir, useCluster } from "../helpers/cluster";

const cluster = useCluster({ agents: 1 });

async function runInstaller(script: string, args: string[], cwd?: string) {
  const p = Bun.spawn(["sh", "-s", "--", ...args], { cwd, stdin: new Blob([script]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH! } });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: out + err };
}

test("curl MASTER/install.sh | sh -s -- --token ... installs a node that joins and serves", async () => {
  const c = cluster();
  const created = await api(c.master, "POST", "/api/agent", { name: "remote" }, c.admin.token);
  expect(created.status).toBe(201);
  const script = await (await fetch(`${c.master}/install.sh`)).text();
  expect(script).toContain(c.master);
  const root = tempDir("sprout-root-");
  const [apiPort, httpPort] = [freePort(), freePort()];
  const r = await runInstaller(script, ["--token", created.body.token, "--name", "remote", "--root", root, "--listen", `127.0.0.1:${apiPort}`, "--http-listen", `127.0.0.1:${httpPort}`]);
  expect(r.code).toBe(0);
  const bin = join(root, "usr", "local", "bin", "sprout");
  expect(existsSync(bin)).toBe(true);
  const envFile = join(root, "etc", "sprout-agent.env");
  expect(statSync(envFile).mode & 0o077).toBe(0);
  const unit = readFileSync(join(root, "etc", "systemd", "system", "sprout-agent.service"), "utf8");
  expect(unit).toContain("User=sprout");
  // The service runs the agent's own copy, which a rolling upgrade may replace.
  const agentBin = join(root, "var", "lib", "sprout", "bin", "sprout");
  expect(unit).toContain(`ExecStart=${agentBin} agent`);
  // The firewall rules of a node: its API and where it serves.
  expect(r.out).toContain(`ufw allow ${apiPort}/tcp comment 'sprout node: agent API`);
  expect(r.out).toContain(`ufw allow ${httpPort}/tcp comment 'sprout node: sites`);
  expect(r.out).toContain(`nft add rule inet filter input tcp dport { ${apiPort}, ${httpPort} } accept`);
  // The binary is the master's, byte for byte, and the token is in the env file, not in the unit.
  const sha = (await (await fetch(`${c.master}/download/sprout-linux-${process.arch}.sha256`)).text()).split(" ")[0];
  expect(new Bun.CryptoHasher("sha256").update(readFileSync(bin)).digest("hex")).toBe(sha!);
  expect(readFileSync(join(root, "etc", "systemd", "system", "sprout-agent.service"), "utf8")).not.toContain("spa_");

  // Start it as systemd would (EnvironmentFile + ExecStart), and it joins and serves.
  const env = Object.fromEntries(readFileSync(envFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  expect(env.SPROUT_AGENT_ROLE).toBe("node");
  const agent = Bun.spawn([agentBin, "agent"], { env: { PATH: process.env.PATH!, ...env }, stdout: "pipe", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const chunk of agent.stderr) log += new TextDecoder().decode(chunk);
  })();
  try {
    const end = Date.now() + 20_000;
    let online = false;
    while (!online && Date.now() < end) {
      online = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.name === "remote" && a.status === "online");
      await Bun.sleep(200);
    }
    expect(online).toBe(true);
    expect((await c.sprout(["deploy", site({ "index.html": "installed" }), "--site", "inst", "--prod"])).code).toBe(0);
    const served = await fetch(`http://127.0.0.1:${httpPort}/`, { headers: { host: `inst.${c.domain}` } });
    expect(await served.text()).toBe("installed");
  } catch (e) {
    throw new Error(`${(e as Error).message}\nagent log:\n${log}`);
  } finally {
    agent.kill("SIGTERM");
    await agent.exited;
    killNginx(join(root, "var", "lib", "sprout"));
  }
});

test("the installer fails loudly when the download fails, and --uninstall removes what it wrote", async () => {
  const c = cluster();
  const script = await (await fetch(`${c.master}/install.sh`)).text();
  const root = tempDir("sprout-root-");
  const bad = await runInstaller(script, ["--master", "http://127.0.0.1:1", "--token", "spa_x", "--root", root]);
  expect(bad.code).not.toBe(0);
  expect(bad.out).toContain("download failed");
  const ok = await runInstaller(script, ["--token", "spa_x", "--root", root, "--no-start"]);
  expect(ok.code).toBe(0);
  expect(existsSync(join(root, "etc", "sprout-agent.env"))).toBe(true);
  const gone = await runInstaller(script, ["--root", root, "--uninstall"]);
  expect(gone.code).toBe(0);
  expect(existsSync(join(root, "etc", "sprout-agent.env"))).toBe(false);
  expect(existsSync(join(root, "usr", "local", "bin", "sprout"))).toBe(false);
});

/** runAsSystemd starts `bin mode` with the settings of an env file, as the unit's EnvironmentFile would. */
function runAsSystemd(bin: string, mode: string, envFile: string) {
  const env = Object.fromEntries(readFileSync(envFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const p = Bun.spawn([bin, mode], { env: { PATH: process.env.PATH!, ...env }, stdout: "pipe", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const chunk of p.stderr) log += new TextDecoder().decode(chunk);
  })();
  return { p, env, log: () => log };
}

test("install.sh --master sets up a master service that starts and answers, and prints its firewall rule", async () => {
  const c = cluster();
  const script = await (await fetch(`${c.master}/install.sh`)).text();
  const root = tempDir("sprout-root-");
  const port = freePort();
  const r = await runInstaller(script, ["--master", "--root", root, "--listen", `127.0.0.1:${port}`, "--domain", "inst.test", "--admin-email", "boss@example.com"]);
  expect(r.code, r.out).toBe(0);
  const envFile = join(root, "etc", "sprout-master.env");
  expect(statSync(envFile).mode & 0o077).toBe(0);
  const unit = readFileSync(join(root, "etc", "systemd", "system", "sprout-master.service"), "utf8");
  expect(unit).toContain(`ExecStart=${join(root, "usr", "local", "bin", "sprout")} master`);
  expect(r.out).toContain(`ufw allow ${port}/tcp comment 'sprout master: API and admin UI`);
  const m = runAsSystemd(join(root, "usr", "local", "bin", "sprout"), "master", envFile);
  try {
    expect(m.env.SPROUT_DATA).toBe(join(root, "var", "lib", "sprout", "master"));
    const end = Date.now() + 20_000;
    let ok = false;
    while (!ok && Date.now() < end) {
      ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.ok, () => false);
      await Bun.sleep(200);
    }
    expect(ok, m.log()).toBe(true);
    expect(m.log()).toContain("Admin account created: boss@example.com");
  } finally {
    m.p.kill("SIGTERM");
    await m.p.exited;
  }
});

test("a gateway installed by install.sh starts as a gateway and joins", async () => {
  const c = cluster();
  const created = await api(c.master, "POST", "/api/agent", { name: "gw-inst", role: "gateway" }, c.admin.token);
  const script = await (await fetch(`${c.master}/install.sh`)).text();
  const root = tempDir("sprout-root-");
  const [apiPort, httpPort] = [freePort(), freePort()];
  const r = await runInstaller(script, ["--token", created.body.token, "--name", "gw-inst", "--role", "gateway", "--root", root, "--listen", `127.0.0.1:${apiPort}`, "--http-listen", `127.0.0.1:${httpPort}`]);
  expect(r.code, r.out).toBe(0);
  expect(r.out).toContain(`ufw allow ${httpPort}/tcp comment 'sprout gateway: HTTP (visitors)'`);
  const g = runAsSystemd(join(root, "var", "lib", "sprout", "bin", "sprout"), "agent", join(root, "etc", "sprout-agent.env"));
  try {
    const end = Date.now() + 20_000;
    let joined = false;
    while (!joined && Date.now() < end) {
      joined = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.name === "gw-inst" && a.status === "online" && a.role === "gateway");
      await Bun.sleep(200);
    }
    expect(joined, g.log()).toBe(true);
  } finally {
    g.p.kill("SIGTERM");
    await g.p.exited;
    killNginx(join(root, "var", "lib", "sprout"));
  }
});

test("a Host header holding shell syntax is not written into the installer", async () => {
  const c = cluster();
  const root = tempDir("sprout-root-");
  const { port } = new URL(c.master);
  // A raw request: fetch() would not send such a Host.
  const raw = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(port), "127.0.0.1", () => s.write(`GET /install.sh HTTP/1.1\r\nHost: x$(id)\r\nConnection: close\r\n\r\n`));
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("end", () => resolve(Buffer.concat(chunks).toString()));
    s.on("error", reject);
  });
  expect(raw).toStartWith("HTTP/1.1 200");
  const script = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  expect(script).toStartWith("#!/bin/sh");
  expect(script).not.toContain("$(id)");
  // Run as a user would: with no master in the script it stops and asks for one (before, the shell
  // ran `id` while reading the script's default master).
  const r = await runInstaller(script, ["--token", "spa_x", "--root", root, "--no-start"], root);
  expect(r.out).toContain("set --master URL");
  expect(r.code).not.toBe(0);
});
