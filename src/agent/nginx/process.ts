import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { SproutError } from "../../shared/errors";
import { logger } from "../../shared/log";
import type { NginxLayout } from "./config";

const log = logger("nginx");

/**
 * NGINX_ENV: glibc keeps freed memory for reuse instead of handing it back to the kernel at once.
 * nginx zeroes about a megabyte of scratch memory for every `map` it reads, then frees it; handed
 * back and faulted in again each time, that made reading the maps of thousands of sites with rules
 * about four times slower (measured with 200 such sites: 5.5 s against 1.4 s).
 */
const NGINX_ENV = { ...process.env, GLIBC_TUNABLES: "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304" };

/**
 * NginxProcess runs and supervises the agent's own nginx: it writes the config only after
 * `nginx -t` accepts it, restarts nginx when it dies, and batches reloads (one HUP for many changes).
 */
export class NginxProcess {
  private proc: Subprocess | null = null;
  private stopping = false;
  private pendingReload: Promise<void> | null = null;
  private started: Promise<void> = Promise.resolve();
  reloads = 0;
  /** lastReloadMs: how long the last reload took, from SIGHUP to workers with the new config. */
  lastReloadMs = 0;
  /** lastError: why nginx last exited on its own, in words a user may see. */
  lastError: string | null = null;
  state: "running" | "stopped" | "restarting" | "failed" = "stopped";

  constructor(
    private bin: string,
    private layout: NginxLayout,
  ) {
    for (const d of ["tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "sites"]) mkdirSync(join(layout.prefix, d), { recursive: true });
    // The agent's secureLayout made the sockets' folder for its workers alone; without it (benches,
    // unit tests) one that any worker user can pass.
    if (layout.socket && !existsSync(dirname(layout.socket))) mkdirSync(dirname(layout.socket), { recursive: true, mode: 0o711 });
  }

  /** writeConf tests `text` as the main config and installs it; answers whether it changed. */
  writeConf(text: string): boolean {
    return this.install(this.layout.conf, text);
  }

  /** writeSiteInclude installs a site's own include after `nginx -t`; answers whether it changed. */
  writeSiteInclude(site: string, text: string | null): boolean {
    return this.install(join(this.layout.sitesDir, `${site}.conf`), text);
  }

  /** ready resolves once nginx's workers exist (it has read its configuration and listens). */
  ready(): Promise<void> {
    return this.started;
  }

  /** pid of nginx's master process, while it runs. */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  hasSiteInclude(site: string): boolean {
    return existsSync(join(this.layout.sitesDir, `${site}.conf`));
  }

  private install(path: string, text: string | null): boolean {
    const old = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (old === text) return false;
    if (text === null) {
      Bun.spawnSync(["rm", "-f", path]);
      return true;
    }
    writeFileSync(`${path}.new`, text, { mode: 0o600 });
    renameSync(`${path}.new`, path);
    // A site include is checked alone with the main config around it: `nginx -t` of every site
    // takes seconds on a node with a thousand sites with rules.
    const test = path === this.layout.conf ? this.test() : this.testAlone(path);
    if (!test.ok) {
      if (old === null) Bun.spawnSync(["rm", "-f", path]);
      else writeFileSync(path, old);
      throw new SproutError(422, "nginx_rejected", `nginx rejected the generated configuration: ${test.output}`);
    }
    return true;
  }

  test(conf = this.layout.conf): { ok: boolean; output: string } {
    const r = Bun.spawnSync([this.bin, "-t", "-q", "-p", this.layout.prefix, "-c", conf], { stderr: "pipe", stdout: "pipe", env: NGINX_ENV });
    return { ok: r.exitCode === 0, output: this.explain(r.stderr.toString()) };
  }

  /**
   * explain turns nginx's error output into a line a user may see: nginx's own reason, without its
   * timestamp and pid, the node's folders or the test file's name.
   */
  private explain(stderr: string): string {
    const dataDir = dirname(this.layout.prefix);
    return stderr
      .trim()
      .split("\n")
      .filter((l) => !/configuration file .* test failed/.test(l))
      .slice(-2)
      .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: /, "").replace(/^nginx: \[(\w+)\] /, ""))
      .join(" ")
      .replaceAll(`${this.layout.prefix}/`, "")
      .replaceAll(dataDir, "<data>");
  }

  private testAlone(include: string) {
    const main = readFileSync(this.layout.conf, "utf8");
    const conf = join(this.layout.prefix, "test-site.conf");
    writeFileSync(conf, main.replace(`include ${this.layout.sitesDir}/*.conf;`, `include ${include};`));
    try {
      return this.test(conf);
    } finally {
      Bun.spawnSync(["rm", "-f", conf]);
    }
  }

  start() {
    this.stopping = false;
    this.spawn();
  }

  private spawn() {
    // A master killed hard leaves its workers holding the port, and an agent killed hard leaves its
    // nginx running: either way a new nginx could not listen. Stop what an earlier run left first.
    this.stopLeftovers();
    // A unix socket left by an nginx killed hard would make this one fail to listen.
    if (this.layout.socket) Bun.spawnSync(["rm", "-f", this.layout.socket]);
    const started = Date.now();
    const proc = Bun.spawn([this.bin, "-p", this.layout.prefix, "-c", this.layout.conf, "-g", "daemon off;"], { stdout: "ignore", stderr: "pipe", env: NGINX_ENV });
    this.proc = proc;
    this.state = "running";
    // Until its workers exist nginx is still reading its configuration (seconds with thousands of
    // sites), and a SIGHUP then would kill it: reloads wait for this.
    this.started = (async () => {
      const end = Date.now() + 120_000;
      while (this.proc === proc && proc.exitCode === null && !workers(proc.pid).length && Date.now() < end) await Bun.sleep(20);
      // Noted once they exist (a slow start has none yet after a fixed delay), so that a later run
      // can stop them if this master is killed hard.
      if (this.proc === proc) this.recordWorkers(proc.pid);
    })();
    let said = "";
    void new Response(proc.stderr).text().then((t) => {
      said = this.explain(t);
      if (t.trim()) log.warn("nginx says", { output: said.slice(-500) });
    });
    void proc.exited.then(async (code) => {
      if (this.proc !== proc) return;
      this.proc = null;
      if (this.stopping) {
        this.state = "stopped";
        return;
      }
      await Bun.sleep(50);
      // Dying at once means it could not start (a port taken, a broken config): say so, not "running".
      this.state = Date.now() - started < 2000 ? "failed" : "restarting";
      this.lastError = said || `exit code ${code}`;
      log.error("nginx exited; restarting", { code, reason: said.slice(-300) });
      setTimeout(() => !this.stopping && this.spawn(), 1000);
    });
  }

  /** recordWorkers notes the workers' pids, so that a later run can stop them if their master is gone. */
  private recordWorkers(masterPid: number) {
    writeFileSync(join(this.layout.prefix, "workers.pid"), workers(masterPid).join("\n"), { mode: 0o600 });
  }

  /**
   * stopLeftovers ends the nginx of an earlier run of this agent: its master by the pid file (asked
   * to quit, then killed), and workers whose master was killed, by the pids recorded at start. Only
   * processes that are nginx's are touched.
   */
  stopLeftovers() {
    const readPids = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split(/\s+/).map(Number).filter((n) => n > 0) : []);
    const isNginx = (pid: number, kind: string) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(`nginx: ${kind}`);
      } catch {
        return false;
      }
    };
    const masters = readPids(this.layout.pid).filter((p) => p !== this.proc?.pid && isNginx(p, "master"));
    const leftovers = [
      ...masters,
      ...masters.flatMap((m) => workers(m)),
      ...readPids(join(this.layout.prefix, "workers.pid")).filter((p) => isNginx(p, "worker")),
    ];
    for (const pid of leftovers) {
      log.warn("stopping an nginx left over from an earlier run", { pid });
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone meanwhile */
      }
    }
    const end = Date.now() + 2000;
    while (leftovers.some(alive) && Date.now() < end) Bun.sleepSync(20);
  }

  /**
   * reload asks nginx to re-read its config, once for all requests made within 100 ms, and resolves
   * when nginx serves with the new config: after SIGHUP the master starts new workers and retires the
   * old ones. It waits for the new workers for as long as nginx takes to parse the config (seconds
   * with thousands of sites) and fails loudly if they never come; then up to 5 s for the old ones to
   * finish the requests they hold.
   */
  reload(): Promise<void> {
    if (this.pendingReload) return this.pendingReload;
    this.pendingReload = (async () => {
      await Bun.sleep(100);
      this.pendingReload = null;
      await this.started;
      const proc = this.proc;
      if (!proc) return;
      const before = workers(proc.pid);
      const t0 = Date.now();
      proc.kill("SIGHUP");
      this.reloads++;
      const renewed = () => workers(proc.pid).some((w) => !before.includes(w));
      while (!renewed()) {
        if (this.proc !== proc) return;
        if (Date.now() - t0 > 120_000) throw new SproutError(503, "nginx_reload_failed", "nginx did not start workers with the new configuration within 120 s.", "See the agent's nginx/error.log.");
        await Bun.sleep(10);
      }
      const end = Date.now() + 5000;
      while (Date.now() < end && workers(proc.pid).some((w) => before.includes(w))) await Bun.sleep(10);
      this.recordWorkers(proc.pid);
      this.lastReloadMs = Date.now() - t0;
      log.info("nginx reloaded", { reloads: this.reloads, ms: this.lastReloadMs });
    })();
    return this.pendingReload;
  }

  /** reopenLogs asks nginx to reopen its log files (after the access log was renamed away). */
  reopenLogs() {
    this.proc?.kill("SIGUSR1");
  }

  /** stop ends nginx gracefully (QUIT lets requests in flight finish), then for sure. */
  async stop() {
    this.stopping = true;
    const p = this.proc;
    if (!p) return;
    p.kill("SIGQUIT");
    const done = await Promise.race([p.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
    if (!done) p.kill("SIGKILL");
    await p.exited;
    this.state = "stopped";
  }
}

/** alive tells whether a process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/** workers lists the child processes of nginx's master (its workers), from /proc. */
function workers(masterPid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (after the parenthesised command name) is the parent pid.
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === masterPid) out.push(Number(entry));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return out;
}
