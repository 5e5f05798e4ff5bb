import { conflict } from "../shared/errors";

/**
 * DeploymentLock serialises the work on one deployment on this node: an upload's init, its file
 * stream and staging, and a replication's staging never overlap for the same id. Without it, two
 * uploads to one deployment both staged it, and the loser's cleanup removed the winner's rules.
 */
export class DeploymentLock {
  private tails = new Map<string, Promise<void>>();

  busy(id: string): boolean {
    return this.tails.has(id);
  }

  /** tryRun runs `fn` at once, or answers 409 when work on the same deployment is going on. */
  tryRun<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy(id))
      return Promise.reject(
        conflict("deployment_busy", `Another upload to deployment ${id} is in progress on this node.`, "Wait for it to finish; run the deploy again if it fails."),
      );
    return this.run(id, fn);
  }

  /** run waits for earlier work on the same deployment, then runs `fn`. */
  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(id, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }
}

/**
 * InitLimiter bounds how often one deployment's grant may start an upload (`init` reads the whole
 * manifest): a few times per window, enough for a retry, not for a loop that keeps a node busy.
 */
export class InitLimiter {
  private seen = new Map<string, { count: number; since: number }>();

  constructor(
    private max = 5,
    private windowMs = 60_000,
  ) {}

  /** take counts one init of `id`; answers false when over the limit. */
  take(id: string, now = Date.now()): boolean {
    for (const [k, v] of this.seen) if (now - v.since > this.windowMs) this.seen.delete(k);
    const cur = this.seen.get(id) ?? { count: 0, since: now };
    cur.count++;
    this.seen.set(id, cur);
    return cur.count <= this.max;
  }
}
