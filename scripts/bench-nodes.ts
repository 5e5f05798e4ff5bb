// scripts/bench-nodes: the master's CPU while 1,000 nodes heartbeat (every 3 s) and long-poll for
// tasks, as real agents do. The nodes are simulated by a separate process (this file run with
// --simulate), so their work is not counted; the master's CPU is read from /proc/<pid>/stat over a
// minute. Used by `bun scripts/bench.ts --only nodes` and at the end of the full bench.
import { readFileSync } from "node:fs";
import { api, type Cluster } from "../test/helpers/cluster";

/** NodesResult is what one run measured. */
export interface NodesResult {
  nodes: number;
  seconds: number;
  cpuPercent: number;
  heartbeats: number;
  polls: number;
  errors: number;
}

const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** cpuSeconds answers the user + system CPU time a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ": utime is the 14th field.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/**
 * benchNodes registers `count` agents on the cluster's master, starts the simulator, lets every node
 * heartbeat once (boot, which reconciles it), then measures the master's CPU for `seconds`.
 */
export async function benchNodes(c: Cluster, count = 1000, seconds = 60, say: (l: string) => void = console.error): Promise<NodesResult> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await api(c.master, "POST", "/api/agent", { name: `sim-${i}`, url: `http://127.0.0.1:${20000 + i}` }, c.admin.token);
    if (r.status !== 201) throw new Error(`agent create: ${JSON.stringify(r.body)}`);
    tokens.push(r.body.token);
  }
  say(`  ${count} nodes registered; starting the simulator`);
  const sim = Bun.spawn(["bun", import.meta.path, "--simulate", c.master], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    // Bun's fetch opens at most 256 connections at once unless told otherwise: 1,000 long polls need more.
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(count * 3) },
  });
  sim.stdin.write(tokens.join("\n") + "\n");
  await sim.stdin.end();
  const lines = (async function* () {
    let buf = "";
    for await (const chunk of sim.stdout) {
      buf += new TextDecoder().decode(chunk);
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        yield buf.slice(0, i);
        buf = buf.slice(i + 1);
      }
    }
  })();
  const next = async () => JSON.parse((await lines.next()).value ?? "{}") as { heartbeats: number; polls: number; errors: number; online?: number };
  try {
    // Warm up: every node has heartbeated (its boot) and holds a long poll.
    const end = Date.now() + 60_000;
    for (;;) {
      const s = await next();
      if ((s.online ?? 0) >= count || Date.now() > end) break;
    }
    const online = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.filter((a: any) => a.status === "online").length;
    say(`  ${online} nodes online; measuring the master's CPU for ${seconds} s`);
    const pid = c.masterProc.proc.pid;
    const s0 = await next();
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    let s1 = s0;
    while (performance.now() - t0 < seconds * 1000) s1 = await next();
    const cpu1 = cpuSeconds(pid);
    const wall = (performance.now() - t0) / 1000;
    return {
      nodes: count,
      seconds: wall,
      cpuPercent: ((cpu1 - cpu0) / wall) * 100,
      heartbeats: s1.heartbeats - s0.heartbeats,
      polls: s1.polls - s0.polls,
      errors: s1.errors - s0.errors,
    };
  } finally {
    sim.kill();
    await sim.exited;
  }
}

/**
 * simulate runs the nodes: each heartbeats every 3 s (the first one says boot) and keeps a 25 s long
 * poll open, answering each task it gets as done. Prints its counters as one JSON line a second.
 */
async function simulate(master: string) {
  const tokens = (await new Response(Bun.stdin.stream()).text()).split("\n").filter(Boolean);
  const stats = { heartbeats: 0, polls: 0, errors: 0, online: 0 };
  const system = { cpu_percent: 1, cpus: 2, load: [0.1, 0.1, 0.1], mem_total: 4e9, mem_free: 3e9, disk_total: 1e11, disk_free: 5e10, nginx: "running", nginx_reloads: 0, uptime: 100, sites: 0 };
  const call = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${master}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  let running = true;
  const node = async (token: string, i: number) => {
    // Spread over the 3 s period, as independent nodes are.
    await Bun.sleep((i * 3000) / tokens.length);
    let boot = true;
    void (async () => {
      while (running) {
        try {
          const r = await call(token, "GET", "/api/agent/tasks?wait=25");
          const tasks = r.ok ? ((await r.json()) as { id: string }[]) : [];
          stats.polls++;
          for (const t of tasks) await call(token, "POST", `/api/agent/tasks/${t.id}/result`, { ok: true });
          if (!r.ok) {
            stats.errors++;
            await Bun.sleep(1000);
          }
        } catch {
          stats.errors++;
          await Bun.sleep(1000);
        }
      }
    })();
    while (running) {
      const t0 = performance.now();
      try {
        const r = await call(token, "POST", "/api/agent/heartbeat", { version: "sim", url: `http://127.0.0.1:${20000 + i}`, http_url: `http://127.0.0.1:${30000 + i}`, system, ...(boot ? { boot: true } : {}) });
        await r.arrayBuffer();
        if (r.ok) {
          if (boot) stats.online++;
          boot = false;
          stats.heartbeats++;
        } else stats.errors++;
      } catch {
        stats.errors++;
      }
      await Bun.sleep(Math.max(0, 3000 - (performance.now() - t0)));
    }
  };
  tokens.forEach((t, i) => void node(t, i));
  process.on("SIGTERM", () => {
    running = false;
    process.exit(0);
  });
  for (;;) {
    await Bun.sleep(1000);
    process.stdout.write(JSON.stringify(stats) + "\n");
  }
}

if (process.argv[2] === "--simulate") await simulate(process.argv[3]!);
