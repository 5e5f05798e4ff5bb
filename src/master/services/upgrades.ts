import type { Heartbeat, UpgradeOrder } from "../../protocol/agent";
import type { Rollout, UpgradeStep } from "../../protocol/upgrade";
import { SproutError, conflict } from "../../shared/errors";
import { logger } from "../../shared/log";
import { ARCH, binaryName, compiledBinary } from "../../shared/self-upgrade";
import { VERSION } from "../../shared/version";
import type { AgentService } from "./agents";

const log = logger("upgrade");

/** OwnBinary is the binary the master runs and serves under /download/. */
export interface OwnBinary {
  path: string;
  name: string;
  sha256: string;
}

let own: OwnBinary | null | undefined;

/** ownBinary answers the master's own compiled binary and its SHA-256 (hashed once), or null from source. */
export async function ownBinary(): Promise<OwnBinary | null> {
  if (own !== undefined) return own;
  const path = compiledBinary();
  own = path ? { path, name: binaryName(), sha256: new Bun.CryptoHasher("sha256").update(await Bun.file(path).bytes()).digest("hex") } : null;
  return own;
}

/**
 * UpgradeService runs rolling upgrades: every agent is brought to the master's own binary, one at a
 * time, nodes first and gateways last, each back with the new version and ready before the next is
 * told, so the other nodes (holding the same sites' replicas) serve meanwhile. The master goes first
 * by construction: agents get the binary it runs. The order travels in the heartbeat's answer (the
 * desired state); the agent replaces its binary and restarts, and its next heartbeats report the
 * outcome (the observed state). A rollout lives in memory: after a master restart, running it again
 * skips the agents already upgraded.
 */
export class UpgradeService {
  private rollout: (Rollout & { targets: { id: string; draining: boolean }[] }) | null = null;
  /** orders: the agents currently told to upgrade. */
  private orders = new Map<string, UpgradeOrder>();
  /** errors: the last upgrade failure each agent reported. */
  private errors = new Map<string, string>();

  constructor(private agents: AgentService) {}

  /** status answers the current or last rollout. */
  status(): Rollout {
    if (!this.rollout) throw new SproutError(404, "not_found", "No rolling upgrade has run since the master started.", "Start one with `sprout agents upgrade`.");
    const { targets: _targets, ...r } = this.rollout;
    return structuredClone(r);
  }

  /** start begins a rolling upgrade in the background; it answers the plan. */
  async start(timeoutSeconds = 180, drain = false): Promise<Rollout> {
    if (this.rollout?.status === "running") throw conflict("upgrade_running", "A rolling upgrade is already running.", "Follow it with `sprout agents upgrade --status`.");
    const bin = await ownBinary();
    if (!bin) throw new SproutError(409, "no_binary", "This master runs from source, so it has no binary to give its agents.", "Run the compiled `sprout` (bun run build) as the master.");
    const all = this.agents.list().sort((a, b) => a.name.localeCompare(b.name));
    const ordered = [...all.filter((a) => a.role === "node"), ...all.filter((a) => a.role === "gateway")];
    const steps: UpgradeStep[] = ordered.map((a) => ({
      agent: a.name,
      role: a.role,
      from: a.version,
      status: a.version === VERSION ? "current" : a.status !== "online" ? "skipped" : "waiting",
      ...(a.version !== VERSION && a.status !== "online" ? { error: `${a.status}: upgrade it when it is back (run \`sprout agents upgrade\` again, or \`sprout upgrade\` on it)` } : {}),
    }));
    this.rollout = { version: VERSION, status: "running", drain, started_at: new Date().toISOString(), finished_at: null, steps, targets: ordered.map((a) => ({ id: a.id, draining: a.draining })) };
    const order: UpgradeOrder = { version: VERSION, sha256: bin.sha256, path: `/download/${bin.name}` };
    log.info("rolling upgrade started", { version: VERSION, agents: steps.filter((s) => s.status === "waiting").length });
    void this.run(order, timeoutSeconds * 1000).catch((e: Error) => this.stop(this.rollout!.steps.find((x) => x.status !== "done" && x.status !== "current" && x.status !== "skipped") ?? null, e.message));
    return this.status();
  }

  private async run(order: UpgradeOrder, timeoutMs: number) {
    const r = this.rollout!;
    for (let i = 0; i < r.steps.length; i++) {
      const step = r.steps[i]!;
      if (step.status !== "waiting") continue;
      const { id, draining } = r.targets[i]!;
      // A node its admin is draining (to remove it) is upgraded as it is, and left draining.
      const drained = r.drain && step.role === "node" && !draining;
      let error: string | null = null;
      if (drained) {
        step.status = "draining";
        error = await this.drain(id, timeoutMs).catch((e: Error) => e.message);
      }
      if (!error) {
        step.status = "upgrading";
        error = await this.upgradeOne(id, order, timeoutMs).catch((e: Error) => e.message);
      }
      // Back in service, upgraded or not: a node that could not upgrade still serves on its old version.
      if (drained) {
        try {
          this.agents.drain(id, true);
        } catch {
          /* removed meanwhile */
        }
      }
      if (error) return this.stop(step, error);
      step.status = "done";
      log.info("agent upgraded", { agent: step.agent, version: order.version });
    }
    r.status = "done";
    r.finished_at = new Date().toISOString();
    log.info("rolling upgrade done", { version: order.version });
  }

  /** stop ends the rollout as failed at `step`. */
  private stop(step: UpgradeStep | null, error: string) {
    const r = this.rollout!;
    if (step) {
      step.status = "failed";
      step.error = error;
    }
    r.status = "failed";
    r.error = `${step?.agent ?? "rollout"}: ${error}. The rollout stopped there; the agents after it were not touched.`;
    r.finished_at = new Date().toISOString();
    log.error("rolling upgrade stopped", { agent: step?.agent, error });
  }

  /** upgradeOne orders one agent to upgrade and waits until it is back with the version and ready; answers an error or null. */
  private async upgradeOne(id: string, order: UpgradeOrder, timeoutMs: number): Promise<string | null> {
    this.errors.delete(id);
    this.orders.set(id, order);
    const end = Date.now() + timeoutMs;
    try {
      for (;;) {
        const reported = this.errors.get(id);
        if (reported) return reported;
        const a = this.agents.list().find((x) => x.id === id);
        if (!a) return "the agent was removed during the upgrade";
        if (a.version === order.version && a.status === "online") {
          // A gateway has no readiness check of its own: a heartbeat with the version is enough.
          if (a.role === "gateway" || (a.url && (await ready(a.url)))) return null;
        }
        if (Date.now() > end) return `not back with sprout ${order.version} and ready within ${Math.round(timeoutMs / 1000)} s (it runs ${a.version ?? "?"}, ${a.status}); see its log`;
        await Bun.sleep(1000);
      }
    } finally {
      this.orders.delete(id);
    }
  }

  /** drain drains a node and waits until every site it holds has its replicas on other nodes; answers an error or null. */
  private async drain(id: string, timeoutMs: number): Promise<string | null> {
    this.agents.drain(id);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const waiting = this.agents.info(this.agents.get(id)).sites_waiting;
      if (waiting === 0) return null;
      if (Date.now() > end) return `still ${waiting} site(s) without their replicas on other nodes after ${Math.round(timeoutMs / 1000)} s of draining; it was put back in service, not upgraded`;
      await Bun.sleep(1000);
    }
  }

  /**
   * onHeartbeat notes what an agent reports about an upgrade, and answers the order it should carry
   * out (none once it runs the version: an order is idempotent, and a repeated one does nothing).
   */
  onHeartbeat(id: string, hb: Heartbeat): UpgradeOrder | undefined {
    const order = this.orders.get(id);
    if (!order) return undefined;
    if (hb.upgrade_error) this.errors.set(id, hb.upgrade_error);
    else if (hb.arch && hb.arch !== ARCH) this.errors.set(id, `it runs on ${hb.arch}, and this master has only the ${ARCH} binary; upgrade it by hand`);
    return hb.version === order.version ? undefined : order;
  }
}

/** ready tells whether an agent answers GET /readyz with 200 (nginx serving, disk above its floor). */
async function ready(url: string): Promise<boolean> {
  return fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
}
