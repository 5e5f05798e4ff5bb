import { afterAll, expect, test } from "bun:test";
import { cleanup, sproutBinary } from "../helpers/cluster";

afterAll(cleanup);

const run = async (args: string[], env: Record<string, string> = {}) => {
  const p = Bun.spawn([sproutBinary(), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, SPROUT_MASTER: "", SPROUT_TOKEN: "", SPROUT_CONFIG_DIR: "/nonexistent-sprout-config", ...env } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
};

test("sprout --help lists every mode and command", async () => {
  const r = await run(["--help"]);
  expect(r.code).toBe(0);
  for (const cmd of ["up", "master", "agent", "deploy", "sites", "deployments", "promote", "rollback", "login", "logout", "whoami", "tokens", "agents"])
    expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\s`, "m"));
});

test("each command's --help shows its usage, options and examples", async () => {
  const r = await run(["deploy", "--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Usage: sprout deploy [DIR] [--site NAME] [--prod] [--message TEXT] [--json]");
  expect(r.stdout).toContain("--prod");
  expect(r.stdout).toContain("Examples:");
  expect((await run(["agent", "--help"])).stdout).toContain("SPROUT_AGENT_TOKEN");
});

test("usage errors exit 2 with the help; runtime errors exit 1 with a hint", async () => {
  const unknownFlag = await run(["deploy", "--nope"]);
  expect(unknownFlag.code).toBe(2);
  expect(unknownFlag.stderr).toContain("Usage: sprout deploy");
  const noSite = await run(["deploy", "."]);
  expect(noSite.code).toBe(2);
  expect(noSite.stderr).toContain("--site NAME is required");
  expect((await run(["frobnicate"])).code).toBe(2);
  const notLoggedIn = await run(["sites"]);
  expect(notLoggedIn.code).toBe(1);
  expect(notLoggedIn.stderr).toContain("hint: Run `sprout login --master URL`");
  const unreachable = await run(["sites"], { SPROUT_MASTER: "http://127.0.0.1:1", SPROUT_TOKEN: "x" });
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain("Cannot reach the master at http://127.0.0.1:1: connection refused (nothing listens at that address).");
  // In the user's words, not the runtime's.
  expect(unreachable.stderr).not.toContain("Is the computer able to access the url");
});

test("install.sh installs the binary it is given, and refuses one whose checksum differs", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "sprout-install-"));
  try {
    const bin = sproutBinary();
    const sha = new Bun.CryptoHasher("sha256").update(await Bun.file(bin).bytes()).digest("hex");
    const run = (env: Record<string, string>) => Bun.spawnSync(["sh", join(import.meta.dir, "..", "..", "install.sh")], { env: { PATH: process.env.PATH!, SPROUT_BINARY: bin, SPROUT_BIN_DIR: dir, ...env }, stderr: "pipe" });
    const bad = run({ SPROUT_SHA256: "0".repeat(64) });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("checksum mismatch");
    expect(await Bun.file(join(dir, "sprout")).exists()).toBe(false);
    const good = run({ SPROUT_SHA256: sha });
    expect(good.exitCode).toBe(0);
    expect(Bun.spawnSync([join(dir, "sprout"), "--version"]).stdout.toString()).toMatch(/^sprout \d+\.\d+\.\d+/);
    // Safe to run twice.
    expect(run({ SPROUT_SHA256: sha }).exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
