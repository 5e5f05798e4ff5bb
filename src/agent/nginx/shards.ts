import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { logger } from "../../shared/log";
import { nginxLayout, shardLayout } from "./config";
import { hopSocket } from "./https";
import { NginxProcess } from "./process";

const log = logger("nginx");

/** MAX_SOCKET_PATH: a unix socket's path must fit in sockaddr_un (108 bytes, with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * pickShard is where a site gets its first rules: the first shard with room (sizes[n] sites in shard
 * n, at most `max`), or a new one after the last. Shards fill one after the other, so every shard's
 * size, and with it the cost of reloading it, stays bounded by `max` whatever the node holds.
 */
export function pickShard(sizes: number[], max: number): number {
  const n = sizes.findIndex((size) => size < max);
  return n === -1 ? sizes.length : n;
}

/**
 * NginxShards serves the sites with rules of their own: each such site's include lives in a shard
 * holding at most `perShard` sites. Shard 0 is the main nginx itself, the one visitors reach: the
 * first sites with rules are served there, with no detour. Shards 1 and up are small nginx
 * instances of their own (a master and one worker, listening on a unix socket), and the main nginx
 * hands every request for their sites to them (a second nginx on the way: about twice the work per
 * request).
 *
 * Why: nginx reads its whole configuration on every reload, and a site's rules are thousands of
 * lines of maps and regexes. With every rules site in one nginx, a deploy of one site's rules cost a
 * reload of all of them (seconds at 2,000 such sites) and every worker held all of them in memory.
 * Now a rules deploy reloads only its shard (at most `perShard` sites, however many the node has),
 * and the main nginx reloads for its own rules sites, or when a site enters or leaves a shard.
 *
 * Where a site's include lies is the record of its shard: an agent killed at any line finds the
 * includes where they were and starts the shards that hold any.
 */
export class NginxShards {
  private procs = new Map<number, NginxProcess>();
  /** routes: the sites the main nginx hands to a shard, and their shard. */
  readonly routes = new Map<string, number>();
  /** placed: every site with a shard: the routed ones, and those being installed. */
  private placed = new Map<string, number>();
  /** stopping: shards stopping because they hold no site any more (a new site waits for the end). */
  private stopping = new Map<number, Promise<void>>();

  constructor(
    private bin: string,
    private dataDir: string,
    /** main: the main nginx (shard 0), started and configured by its owner; mainListen: where it serves. */
    private main: NginxProcess,
    private mainListen: string,
    /** perShard: the most sites with rules one shard holds (`--sites-per-shard`). */
    readonly perShard: number,
    /** renderConf renders shard `n`'s nginx.conf. */
    private renderConf: (n: number) => string,
    /** routesChanged brings the main nginx in line with `routes` (rewrite, reload, awaited). */
    private routesChanged: () => Promise<void>,
  ) {
    if (!Number.isInteger(perShard) || perShard < 1) throw new Error("--sites-per-shard must be a whole number from 1");
    const socket = shardLayout(dataDir, 99_999).socket;
    if (socket.length > MAX_SOCKET_PATH) throw new Error(`the data folder's path is too long for nginx's sockets (${socket.length} bytes; at most ${MAX_SOCKET_PATH}): use a shorter --data`);
    for (const n of this.shardNumbers())
      for (const site of this.sitesOf(n)) {
        // Never in two shards; if it were (a copy by hand), the first keeps it.
        if (this.placed.has(site)) rmSync(join(this.layout(n).sitesDir, `${site}.conf`), { force: true });
        else this.placed.set(site, n);
      }
    for (const [site, n] of this.placed) if (n > 0) this.routes.set(site, n);
  }

  /** shardOf is the shard of a site: where its include is, or where it will go. */
  shardOf(site: string): number {
    let n = this.placed.get(site);
    if (n === undefined) {
      const sizes: number[] = [];
      for (const m of this.placed.values()) sizes[m] = (sizes[m] ?? 0) + 1;
      n = pickShard(Array.from(sizes, (x) => x ?? 0), this.perShard);
      this.placed.set(site, n);
    }
    return n;
  }

  /**
   * listenOf is the `listen` addresses of a site's servers: the main nginx's (its HTTP listener and
   * the socket of its HTTPS servers, see https.ts), or its shard's socket.
   */
  listenOf(site: string): string[] {
    const n = this.shardOf(site);
    return n === 0 ? [this.mainListen, `unix:${hopSocket(nginxLayout(this.dataDir))}`] : [`unix:${shardLayout(this.dataDir, n).socket}`];
  }

  /**
   * install puts a site's include in its shard (or removes it, for null) and answers once visitors
   * are served by the result; answers whether anything changed. The shard is tested and reloaded
   * alone. Order keeps every request served: a new site's shard serves it before the main nginx
   * hands it over; a site leaving its shard is taken back by the main nginx first.
   */
  async install(site: string, text: string | null): Promise<boolean> {
    const n = this.shardOf(site);
    const p = this.proc(n);
    if (n === 0) {
      // The main nginx: tested and reloaded (if it runs already: at start it reads them all).
      if (text === null) this.placed.delete(site);
      if (!p.writeSiteInclude(site, text)) return false;
      await p.reload();
      return true;
    }
    const had = this.routes.has(site);
    if (text === null) {
      this.placed.delete(site);
      if (!had && !p.hasSiteInclude(site)) return false;
      this.routes.delete(site);
      if (had) await this.routesChanged();
      p.writeSiteInclude(site, null);
      if (!this.sitesOf(n).length) {
        const stopped = p.stop().finally(() => this.stopping.delete(n));
        this.stopping.set(n, stopped);
        await stopped;
      } else {
        p.writeConf(this.renderConf(n));
        await p.reload();
      }
      return true;
    }
    // A shard stopping for want of sites is started again once it has stopped.
    await this.stopping.get(n);
    // The shard's own config first: it may not exist yet.
    const confChanged = p.writeConf(this.renderConf(n));
    const changed = p.writeSiteInclude(site, text);
    if (p.state === "stopped") await this.startShard(n);
    else if (changed || confChanged) await p.reload();
    if (!had) {
      this.routes.set(site, n);
      await this.routesChanged();
    }
    return changed || !had;
  }

  /**
   * retire ends the shard layout (the agent now serves rules with the Lua engine): shard nginx left
   * by an earlier run are stopped, and every include goes, the main nginx's own too. The caller
   * rewrites the main config without shards.
   */
  retire() {
    for (const n of this.shardNumbers()) {
      if (n > 0) {
        if (existsSync(shardLayout(this.dataDir, n).pid)) this.proc(n).stopLeftovers();
        rmSync(shardLayout(this.dataDir, n).prefix, { recursive: true, force: true });
      } else for (const site of this.sitesOf(0)) rmSync(join(nginxLayout(this.dataDir).sitesDir, `${site}.conf`), { force: true });
    }
    this.placed.clear();
    this.routes.clear();
  }

  /** startAll starts every shard that holds sites and is not running (agent start). */
  async startAll() {
    for (const n of this.shardNumbers().filter((m) => m > 0)) {
      // An nginx left running by an agent killed hard, for a shard that holds nothing now.
      if (!this.sitesOf(n).length) {
        if (existsSync(shardLayout(this.dataDir, n).pid)) this.proc(n).stopLeftovers();
        continue;
      }
      const p = this.proc(n);
      p.writeConf(this.renderConf(n));
      if (p.state === "stopped") await this.startShard(n);
    }
  }

  /** reloadAll brings every shard in line with the includes in its folder (written in bulk: the bench). */
  async reloadAll() {
    await Promise.all(
      this.shardNumbers()
        .filter((n) => n > 0)
        .map(async (n) => {
        if (!this.sitesOf(n).length) return;
        const p = this.proc(n);
        p.writeConf(this.renderConf(n));
        if (p.state === "stopped") await this.startShard(n);
        else await p.reload();
      }),
    );
  }

  private async startShard(n: number) {
    const p = this.proc(n);
    p.start();
    await p.ready();
    log.info("nginx shard serving", { shard: n, sites: this.sitesOf(n).length });
  }

  /** inUse counts the shards (1 and up) that hold sites. */
  get inUse(): number {
    return new Set(this.routes.values()).size;
  }

  /** reloads counts the shards' reloads since the agent started. */
  get reloads(): number {
    let sum = 0;
    for (const p of this.procs.values()) sum += p.reloads;
    return sum;
  }

  /** problem names a shard that is not running while it holds sites, or null. */
  problem(): string | null {
    for (const [n, p] of this.procs) if (p.state !== "running" && this.sitesOf(n).length) return `nginx shard ${n} is ${p.state}`;
    return null;
  }

  /** pids of the shards' nginx masters, 1 and up (the bench reads their memory). */
  pids(): Record<number, number | null> {
    return Object.fromEntries([...this.procs].map(([n, p]) => [n, p.pid]));
  }

  /** stop ends the shards 1 and up (the main nginx is its owner's to stop). */
  async stop() {
    await Promise.all([...this.procs.values()].map((p) => p.stop()));
  }

  private layout(n: number) {
    return n === 0 ? nginxLayout(this.dataDir) : shardLayout(this.dataDir, n);
  }

  private proc(n: number): NginxProcess {
    if (n === 0) return this.main;
    let p = this.procs.get(n);
    if (!p) {
      p = new NginxProcess(this.bin, shardLayout(this.dataDir, n));
      this.procs.set(n, p);
    }
    return p;
  }

  /** shardNumbers lists the shards: the main nginx (0), and those that have a folder. */
  private shardNumbers(): number[] {
    const root = join(this.dataDir, "nginx", "shards");
    const others = existsSync(root) ? readdirSync(root).filter((d) => /^[1-9]\d*$/.test(d)).map(Number) : [];
    return [0, ...others.sort((a, b) => a - b)];
  }

  private sitesOf(n: number): string[] {
    const dir = this.layout(n).sitesDir;
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".conf")).map((f) => f.slice(0, -5)) : [];
  }
}
