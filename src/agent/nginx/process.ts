import { mkdirSync, writeFileSync, readFileSync, existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { SproutError } from "../../shared/errors";
import { logger } from "../../shared/log";
import type { NginxLayout } from "./config";

const log = logger("nginx");

/**
 * NginxProcess runs and supervises the agent's own nginx: it writes the config only after
 * `nginx -t` accepts it, restarts nginx when it dies, and batches reloads (one HUP for many changes).
 */
export class NginxProcess {
  private proc: Subprocess | null = null;
  private stopping = false;
  private reloadTimer: ReturnType<typeof setTimeout> | null = null;
  reloads = 0;
  state: "running" | "stopped" | "restarting" = "stopped";

  constructor(
    private bin: string,
    private layout: NginxLayout,
  ) {
    for (const d of ["tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "sites"]) mkdirSync(join(layout.prefix, d), { recursive: true });
  }

  /** writeConf tests `text` as the main config and installs it; answers whether it changed. */
  writeConf(text: string): boolean {
    return this.install(this.layout.conf, text);
  }

  /** writeSiteInclude installs a site's own include after `nginx -t`; answers whether it changed. */
  writeSiteInclude(site: string, text: string | null): boolean {
    return this.install(join(this.layout.sitesDir, `${site}.conf`), text);
  }

  private install(path: string, text: string | null): boolean {
    const old = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (old === text) return false;
    if (text === null) {
      Bun.spawnSync(["rm", "-f", path]);
      return true;
    }
    writeFileSync(`${path}.new`, text);
    renameSync(`${path}.new`, path);
    const test = this.test();
    if (!test.ok) {
      if (old === null) Bun.spawnSync(["rm", "-f", path]);
      else writeFileSync(path, old);
      throw new SproutError(422, "nginx_rejected", `nginx rejected the generated configuration: ${test.output}`);
    }
    return true;
  }

  test(): { ok: boolean; output: string } {
    const r = Bun.spawnSync([this.bin, "-t", "-q", "-p", this.layout.prefix, "-c", this.layout.conf], { stderr: "pipe", stdout: "pipe" });
    return { ok: r.exitCode === 0, output: r.stderr.toString().trim().split("\n").slice(-3).join(" ") };
  }

  start() {
    this.stopping = false;
    this.spawn();
  }

  private spawn() {
    const proc = Bun.spawn([this.bin, "-p", this.layout.prefix, "-c", this.layout.conf, "-g", "daemon off;"], { stdout: "ignore", stderr: "pipe" });
    this.proc = proc;
    this.state = "running";
    void new Response(proc.stderr).text().then((t) => t.trim() && log.warn("nginx says", { output: t.trim().slice(-500) }));
    void proc.exited.then((code) => {
      if (this.proc !== proc) return;
      this.proc = null;
      if (this.stopping) {
        this.state = "stopped";
        return;
      }
      this.state = "restarting";
      log.error("nginx exited; restarting", { code });
      setTimeout(() => !this.stopping && this.spawn(), 1000);
    });
  }

  /** reload asks nginx to re-read its config, once for all requests made within 100 ms. */
  reload() {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      if (!this.proc) return;
      this.proc.kill("SIGHUP");
      this.reloads++;
      log.info("nginx reloaded", { reloads: this.reloads });
    }, 100);
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
