// scripts/chaos-run: the chaos scenario of `bun run chaos` and test/e2e/chaos-short.test.ts. A master
// and three nodes; for a while, deploys, promotions and rollbacks of several sites at random while the
// master, agents and nginx are killed (SIGKILL) and restarted at random; then every process is up again
// and, within 60 s, every node must serve what the master records for every site it holds, and every
// site must have its replica count.
import { join } from "node:path";
import { api, cluster, killNginx, site, sproutBinary, start, type Node, type Proc } from "../test/helpers/cluster";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

/** ChaosResult counts what happened and what the final check found. */
export interface ChaosResult {
  seconds: number;
  deploys: number;
  deploysLive: number;
  promotes: number;
  rollbacks: number;
  failedCommands: number;
  /** failures: each failed command and the last line it printed (a master killed under it, mostly). */
  failures: string[];
  kills: { master: number; agent: number; nginx: number };
  /**
   * overTimeout: commands that ran as long as their own timeout (deploy 300 s, promote/rollback 60 s)
   * or longer: a command that waits out its timeout hung for its user as surely as one that outlives it.
   */
  overTimeout: string[];
  divergencesFound: number;
  divergencesHealed: number;
  /** remaining: what still differed 60 s after the last restart (empty when the cluster converged). */
  remaining: string[];
  /** convergedAfterMs: time from the last restart to a clean check. */
  convergedAfterMs: number | null;
  /** logFile: every process's output, kept for reading after the run. */
  logFile: string;
}

const SITES = ["chaos-a", "chaos-b", "chaos-c", "chaos-d"];
const DEPLOY_TIMEOUT_MS = 300_000;
const MOVE_TIMEOUT_MS = 60_000;
/** SLACK: how long past its timeout (process start, a last request) a command runs before it is killed (twice this). */
const SLACK_MS = 15_000;

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const between = (a: number, b: number) => a + Math.random() * (b - a);

/** runChaos runs the scenario for `seconds` and checks the end state. */
export async function runChaos(opts: { seconds: number; say?: (l: string) => void }): Promise<ChaosResult> {
  const say = opts.say ?? ((l: string) => console.error(l));
  const c = await cluster({ agents: 3, masterArgs: ["--offline-after", "3", "--heal-after", "6"] });
  const r: ChaosResult = { seconds: opts.seconds, deploys: 0, deploysLive: 0, promotes: 0, rollbacks: 0, failedCommands: 0, failures: [], kills: { master: 0, agent: 0, nginx: 0 }, overTimeout: [], divergencesFound: 0, divergencesHealed: 0, remaining: [], convergedAfterMs: null, logFile: join(tmpdir(), `sprout-chaos-${Date.now()}.log`) };
  /** content: what each deployment serves at / (its index.html). */
  const content = new Map<string, string>();
  const masterPort = new URL(c.master).port;
  let masterUp = true;
  const restarted: Proc[] = [];
  let version = 0;

  /** cli runs the CLI as the admin, killed if it outlives its timeout by far (counted as over from its timeout on). */
  const cli = async (args: string[], timeoutMs: number) => {
    const t0 = Date.now();
    const proc = Bun.spawn([sproutBinary(), ...args], {
      cwd: c.home,
      env: { ...process.env, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: join(c.home, "cli-cache"), SPROUT_LOG: "", SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const guard = setTimeout(() => proc.kill("SIGKILL"), timeoutMs + SLACK_MS * 2);
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    clearTimeout(guard);
    const ms = Date.now() - t0;
    if (ms >= timeoutMs) r.overTimeout.push(`${args.slice(0, 4).join(" ")}: ${(ms / 1000).toFixed(0)} s`);
    if (code !== 0) {
      r.failedCommands++;
      const lastLine = (stderr + stdout).trim().split("\n").pop() ?? "";
      r.failures.push(`${args[0]} ${args.includes("--prod") ? "--prod " : ""}(${(ms / 1000).toFixed(0)} s): ${lastLine.slice(0, 160)}`);
    }
    return { code, stdout, stderr, ms };
  };

  const deploy = async (name: string, prod: boolean) => {
    const body = `${name} v${++version}`;
    r.deploys++;
    const out = await cli(["deploy", site({ "index.html": body }), "--site", name, ...(prod ? ["--prod"] : [])], DEPLOY_TIMEOUT_MS);
    const id = /Deployment (\w+) of/.exec(out.stdout + out.stderr)?.[1];
    if (id) content.set(id, body);
    if (out.code === 0) r.deploysLive++;
    return out.code === 0 ? id : undefined;
  };

  const operation = async () => {
    const name = pick(SITES);
    const roll = Math.random();
    if (roll < 0.5) await deploy(name, true);
    else if (roll < 0.75) {
      const id = await deploy(name, false);
      if (id) {
        r.promotes++;
        await cli(["promote", "--site", name, id], MOVE_TIMEOUT_MS);
      }
    } else {
      r.rollbacks++;
      await cli(["rollback", "--site", name], MOVE_TIMEOUT_MS);
    }
  };

  const restartMaster = async () => {
    const { p } = await start(
      "master (restarted)",
      ["master", "--listen", `127.0.0.1:${masterPort}`, "--data", join(c.home, "master"), "--domain", c.domain, "--admin-email", c.admin.email, "--offline-after", "3", "--heal-after", "6"],
      { SPROUT_ADMIN_PASSWORD: c.admin.password },
      /sprout master listening on/,
      30_000,
    );
    c.masterProc = p;
    restarted.push(p);
    masterUp = true;
  };
  const restartAgent = async (n: Node) => {
    const { p } = await start(
      `agent ${n.name} (restarted)`,
      ["agent", "--master", c.master, "--name", n.name, "--listen", new URL(n.url).host, "--http-listen", new URL(n.httpUrl).host, "--data", n.data],
      { SPROUT_AGENT_TOKEN: n.token },
      /sprout agent listening on/,
      30_000,
    );
    n.p = p;
    restarted.push(p);
  };
  const nginxPid = (n: Node) => {
    const f = join(n.data, "nginx", "nginx.pid");
    const pid = existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : NaN;
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  };

  const end = Date.now() + opts.seconds * 1000;
  say(`chaos: ${opts.seconds} s of deploys, promotions and rollbacks on ${SITES.length} sites while killing the master, agents and nginx`);
  // Each site starts with a production, so rollbacks have something to do.
  for (const name of SITES) await deploy(name, true);

  const workers = [0, 1].map(async () => {
    while (Date.now() < end) {
      await operation().catch((e) => say(`  operation error: ${(e as Error).message}`));
      await Bun.sleep(between(200, 1500));
    }
  });
  const killer = (async () => {
    while (Date.now() < end) {
      await Bun.sleep(between(4000, 9000));
      if (Date.now() >= end) break;
      const what = pick(["master", "agent", "agent", "nginx", "nginx"] as const);
      if (what === "master") {
        r.kills.master++;
        say(`  kill -9 master`);
        masterUp = false;
        c.masterProc.proc.kill("SIGKILL");
        await c.masterProc.proc.exited;
        await Bun.sleep(between(500, 4000));
        await restartMaster();
      } else if (what === "agent") {
        const n = pick(c.nodes);
        r.kills.agent++;
        // Half the time its nginx dies too; otherwise the new agent finds the old nginx running.
        const withNginx = Math.random() < 0.5;
        say(`  kill -9 agent ${n.name}${withNginx ? " and its nginx" : ""}`);
        n.p.proc.kill("SIGKILL");
        await n.p.proc.exited;
        if (withNginx) killNginx(n.data);
        await Bun.sleep(between(500, 5000));
        await restartAgent(n);
      } else {
        const n = pick(c.nodes);
        const pid = nginxPid(n);
        if (!pid) continue;
        r.kills.nginx++;
        say(`  kill -9 nginx of ${n.name}`);
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone already */
        }
      }
    }
  })();
  await killer;
  await Promise.all(workers);
  // Everything up again (a restart may have failed to finish): that is the last restart.
  if (!masterUp || c.masterProc.proc.exitCode !== null) await restartMaster();
  for (const n of c.nodes) if (n.p.proc.exitCode !== null || n.p.proc.signalCode) await restartAgent(n);
  const lastRestart = Date.now();
  say(`chaos: every process is up; checking convergence (60 s at most)`);

  const check = async (): Promise<string[]> => {
    const problems: string[] = [];
    const agents: any[] = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
    for (const name of SITES) {
      const info = (await api(c.master, "GET", `/api/site/${name}`, undefined, c.admin.token)).body;
      if (!info?.production_deployment_id) continue;
      const want = content.get(info.production_deployment_id) ?? `(deployment ${info.production_deployment_id}, content unknown)`;
      const upToDate = info.nodes.filter((x: any) => x.status === "online" && x.up_to_date).length;
      if (upToDate < Math.min(info.replicas, agents.filter((a) => a.status === "online").length)) problems.push(`${name}: ${upToDate} up-to-date replica(s) of ${info.replicas}`);
      for (const held of info.nodes) {
        const node = c.nodes.find((n) => n.name === held.name);
        if (!node) continue;
        const got = await c
          .get(`${name}.${c.domain}`, "/", node)
          .then((res) => res.text())
          .catch(() => "(no answer)");
        if (got !== want) problems.push(`${name} on ${node.name}: serves ${JSON.stringify(got.slice(0, 40))}, the master records ${JSON.stringify(want)}`);
      }
    }
    return problems;
  };

  let first: string[] | null = null;
  let last: string[] = [];
  while (Date.now() - lastRestart < 60_000) {
    try {
      last = await check();
    } catch (e) {
      last = [`check failed: ${(e as Error).message}`];
    }
    first ??= last;
    if (!last.length) {
      r.convergedAfterMs = Date.now() - lastRestart;
      break;
    }
    await Bun.sleep(1000);
  }
  r.divergencesFound = first?.length ?? 0;
  r.divergencesHealed = r.divergencesFound - last.filter((p) => first?.includes(p)).length;
  r.remaining = last;
  writeFileSync(r.logFile, `${c.logs()}\n----- restarted processes\n${restarted.map((p) => `----- ${p.name}\n${p.output()}`).join("\n")}`);
  await c.stop();
  return r;
}

/** report prints the counts as a few lines. */
export function report(r: ChaosResult): string {
  return [
    `deploys: ${r.deploys} (${r.deploysLive} live), promotions: ${r.promotes}, rollbacks: ${r.rollbacks}, failed commands: ${r.failedCommands}`,
    ...r.failures.map((f) => `  failed: ${f}`),
    `kills: master ${r.kills.master}, agents ${r.kills.agent}, nginx ${r.kills.nginx}`,
    `commands over their timeout: ${r.overTimeout.length}${r.overTimeout.length ? ` (${r.overTimeout.join("; ")})` : ""}`,
    `divergences found after the last restart: ${r.divergencesFound}, healed: ${r.divergencesHealed}, remaining: ${r.remaining.length}`,
    `logs of every process: ${r.logFile}`,
    r.convergedAfterMs !== null ? `converged ${(r.convergedAfterMs / 1000).toFixed(1)} s after the last restart` : `NOT converged within 60 s:\n  ${r.remaining.join("\n  ")}`,
  ].join("\n");
}
