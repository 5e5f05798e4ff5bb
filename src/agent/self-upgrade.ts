import { writeFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { UpgradeOrder } from "../protocol/agent";
import { logger } from "../shared/log";
import { compiledBinary, installBinary } from "../shared/self-upgrade";
import { VERSION } from "../shared/version";

const log = logger("upgrade");

/** RETRY_MS: after a failed upgrade, the same order is tried again this much later. */
const RETRY_MS = 30_000;

/**
 * SelfUpgrade carries out the master's upgrade orders (they arrive in heartbeat answers): it fetches
 * the master's binary, checks its SHA-256 and version, renames it over the running one, and then
 * calls `restart` so the agent stops and starts again as the new version. A failure is kept in
 * `error` and reported with the next heartbeats, so the master's rollout stops and says why.
 */
export class SelfUpgrade {
  /** error: why the last order failed; sent as the heartbeat's upgrade_error until the order is withdrawn. */
  error: string | undefined;
  private busy = false;
  private lastTry = 0;

  constructor(
    private master: string,
    private restart: () => void,
    /** pin of the master's self-signed certificate, if it has one. */
    private pin?: string | null,
  ) {}

  /** handle takes a heartbeat answer's order (or its absence) and acts on it at most once at a time. */
  handle(order: UpgradeOrder | undefined) {
    if (!order) {
      this.error = undefined;
      return;
    }
    if (order.version === VERSION || this.busy || Date.now() - this.lastTry < RETRY_MS) return;
    this.busy = true;
    this.lastTry = Date.now();
    void this.apply(order).finally(() => (this.busy = false));
  }

  private async apply(order: UpgradeOrder) {
    const target = compiledBinary();
    // A container's binary comes from its image: a replaced one would be lost at the next start.
    if (process.env.SPROUT_IN_CONTAINER === "1") {
      this.error = "it runs in a container: upgrade its image to the master's version instead (docker compose pull && docker compose up -d, or kubectl set image)";
      log.error("cannot upgrade", { error: this.error });
      return;
    }
    if (!target) {
      this.error = "it runs from source (bun src/main.ts), not as a compiled binary it could replace";
      log.error("cannot upgrade", { error: this.error });
      return;
    }
    log.info("upgrading", { from: VERSION, to: order.version });
    try {
      await installBinary({ url: `${this.master}${order.path}`, sha256: order.sha256, version: order.version, pin: this.pin }, target);
      this.error = undefined;
      log.info(`binary replaced with sprout ${order.version}; restarting`);
      this.restart();
    } catch (e) {
      // No node folder in what the master (and its admin) see.
      const hint = (e as { hint?: string }).hint;
      this.error = `${(e as Error).message}${hint ? ` ${hint}` : ""}`.replaceAll(target, "its binary").replaceAll(dirname(target), "<its folder>");
      log.error("upgrade failed; still running the old version", { error: this.error });
    }
  }
}

/**
 * relaunch starts this agent again after an upgrade replaced its binary. Under a supervisor
 * (systemd sets INVOCATION_ID; containers set SPROUT_SUPERVISED=1) it only exits and the supervisor
 * starts the new binary; otherwise it starts the new binary itself, detached, with the same
 * arguments and its actual API address (so `--listen ...:0` keeps the port the master knows), and
 * exits. Answers the exit code for this process.
 */
export function relaunch(listen: string): number {
  if (process.env.INVOCATION_ID || process.env.SPROUT_SUPERVISED === "1") return 0;
  const args = [...process.argv.slice(2), "--listen", listen];
  const child = Bun.spawn([process.execPath, ...args], { stdio: ["ignore", "inherit", "inherit"], detached: true, env: process.env });
  child.unref();
  log.info("started the upgraded agent", { pid: child.pid });
  return 0;
}

/** PID_FILE in the agent's data folder holds the running agent's pid (it changes when an upgrade restarts it). */
export const PID_FILE = "agent.pid";

/** writePid records this process as the agent of `dataDir`; clearPid removes the record on a clean stop. */
export const writePid = (dataDir: string) => writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`);
export const clearPid = (dataDir: string) => rmSync(join(dataDir, PID_FILE), { force: true });
