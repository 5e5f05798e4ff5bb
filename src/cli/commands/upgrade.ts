import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError, type Command } from "../../shared/command";
import { SproutError } from "../../shared/errors";
import { binaryName, compiledBinary, installBinary, readSha256 } from "../../shared/self-upgrade";
import { VERSION } from "../../shared/version";
import { JSON_OPT, action, out } from "../action";
import { info } from "../output";
import { normalizeMaster } from "../master-url";
import { loadStore, selectProfile } from "../credentials";

/** SERVICES install.sh may have set up, restarted after an upgrade when they run. */
const SERVICES = ["sprout-master", "sprout-agent"];

/**
 * upgradeCommand is `sprout upgrade`: this machine's `sprout` becomes the master's (downloaded from
 * it, checked against its SHA-256, renamed into place), and so does the agent's own copy that
 * install.sh set up; then the services that run them restart. The cluster-wide, one-node-at-a-time
 * upgrade is `sprout agents upgrade`.
 */
export const upgradeCommand: Command = {
  name: "upgrade",
  group: "cluster",
  summary: "Replace this machine's sprout with the master's version (checked), and restart its services",
  usage: "upgrade [--master URL] [--root DIR] [--no-restart] [--json]",
  options: {
    master: { type: "string", value: "URL", description: "The master to take the binary from (default: the node's /etc/sprout-agent.env, else your login)", env: "SPROUT_MASTER" },
    root: { type: "string", value: "DIR", description: "The folder install.sh was run with --root on (its etc/ and the agent's data below it)", env: "SPROUT_ROOT" },
    "no-restart": { type: "boolean", description: "Replace the binaries only; restart the services yourself" },
    ...JSON_OPT,
  },
  examples: ["sudo sprout upgrade", "sudo sprout upgrade --master http://10.0.0.1:7000", "sprout agents upgrade    # every node, one at a time, from the master"],
  run: action(async (v) => {
    const root = typeof v.root === "string" ? v.root : "";
    const env = readEnvFile(join(root || "/", "etc", "sprout-agent.env"));
    const master = masterOf(v.master, env.SPROUT_MASTER);
    const self = compiledBinary();
    if (!self) throw new SproutError(400, "not_compiled", "This sprout runs from source: there is no binary to replace.", "Run `git pull` and `bun run build` instead.");
    const url = `${master}/download/${binaryName()}`;
    const sha256 = await readSha256(url);
    // The agent's own copy (install.sh puts it in its data folder, writable by the service's user).
    const targets = [self];
    const agentCopy = env.SPROUT_AGENT_DATA ? join(env.SPROUT_AGENT_DATA, "bin", "sprout") : null;
    if (agentCopy && existsSync(agentCopy) && agentCopy !== self) targets.push(agentCopy);
    const results: { binary: string; from: string; to: string; changed: boolean }[] = [];
    for (const target of targets) {
      const current = new Bun.CryptoHasher("sha256").update(await Bun.file(target).bytes()).digest("hex");
      if (current === sha256) {
        results.push({ binary: target, from: versionOf(target), to: versionOf(target), changed: false });
        continue;
      }
      const from = target === self ? VERSION : versionOf(target);
      info(`Downloading ${url} for ${target}`);
      const to = await installBinary({ url, sha256 }, target);
      results.push({ binary: target, from, to, changed: true });
    }
    const restarted: string[] = [];
    if (results.some((r) => r.changed) && v["no-restart"] !== true && !root && Bun.which("systemctl")) {
      for (const s of SERVICES) {
        if (Bun.spawnSync(["systemctl", "is-active", "--quiet", s]).exitCode !== 0) continue;
        const r = Bun.spawnSync(["systemctl", "restart", s], { stderr: "pipe" });
        if (r.exitCode !== 0) throw new SproutError(500, "restart_failed", `The binary is replaced, but \`systemctl restart ${s}\` failed: ${r.stderr.toString().trim()}.`, `See \`journalctl -u ${s}\`.`);
        restarted.push(s);
      }
    }
    return out(v, { master, results, restarted }, () =>
      [
        ...results.map((r) => (r.changed ? `${r.binary}: sprout ${r.from} -> ${r.to} (SHA-256 checked; the old one kept as ${r.binary}.previous)` : `${r.binary}: already the master's sprout ${r.to}`)),
        ...(restarted.length ? [`Restarted ${restarted.join(", ")}.`] : results.some((r) => r.changed) ? ["Restart what runs it (e.g. systemctl restart sprout-agent) to use the new version."] : []),
        "",
      ].join("\n"),
    );
  }),
};

/** masterOf picks the master: --master, the node's env file, else the current login. */
function masterOf(flag: unknown, fromEnvFile: string | undefined): string {
  if (typeof flag === "string" && flag) return normalizeMaster(flag, "--master");
  if (fromEnvFile) return normalizeMaster(fromEnvFile, "SPROUT_MASTER");
  const login = selectProfile(loadStore(), {})?.profile.master;
  if (login) return login;
  throw new UsageError("no master known here: pass --master URL");
}

/** readEnvFile reads KEY=VALUE lines (install.sh's settings file); empty when missing or unreadable. */
function readEnvFile(path: string): Record<string, string> {
  try {
    return Object.fromEntries(readFileSync(path, "utf8").split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
  } catch {
    return {};
  }
}

/** versionOf asks a sprout binary its version. */
function versionOf(bin: string): string {
  const r = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "ignore" });
  return /^sprout (\S+)/.exec(r.stdout.toString())?.[1] ?? "unknown";
}
