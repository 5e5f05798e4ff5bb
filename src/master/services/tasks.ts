import { and, asc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db";
import { tasks } from "../../db/schema";
import type { Task, TaskEnvelope } from "../../protocol/agent";
import { notFound } from "../../shared/errors";
import { newId } from "../../shared/ids";
import { logger } from "../../shared/log";
import { now } from "../config";

const log = logger("tasks");
const LEASE_MS = 30_000;
const MAX_ATTEMPTS = 5;

/**
 * TaskQueue holds work for agents as rows with a lease. An agent long-polls `take`, which answers at
 * once when tasks are pending (or a lease ran out) and otherwise waits until `enqueue` wakes it.
 * Results come back through `complete`; a task never acknowledged is sent again after its lease.
 */
export class TaskQueue {
  private waiters = new Map<string, Set<() => void>>();
  /** onResult lets services react to a finished task (e.g. a failed activation). */
  onResult: (agentId: string, task: Task, ok: boolean, error?: string) => void = () => {};

  /** due is prepared once: every long poll of every node runs it, usually to find nothing. */
  private due;

  constructor(private db: Db) {
    this.due = db
      .select()
      .from(tasks)
      .where(and(eq(tasks.agentId, sql.placeholder("agentId")), or(eq(tasks.status, "pending"), and(eq(tasks.status, "sent"), lt(tasks.leaseUntil, sql.placeholder("at"))))))
      .orderBy(asc(tasks.createdAt))
      .limit(50)
      .prepare();
  }

  enqueue(agentId: string, task: Task): string {
    const id = newId();
    const at = now();
    this.db.insert(tasks).values({ id, agentId, kind: task.kind, payload: JSON.stringify(task), createdAt: at, updatedAt: at }).run();
    for (const wake of this.waiters.get(agentId) ?? []) wake();
    return id;
  }

  /** take answers the agent's due tasks, waiting up to `waitMs` for one to arrive. */
  async take(agentId: string, waitMs: number, signal?: AbortSignal): Promise<TaskEnvelope[]> {
    let due = this.claim(agentId);
    if (due.length || waitMs <= 0) return due;
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(agentId) ?? new Set();
      this.waiters.set(agentId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      set.add(done);
      signal?.addEventListener("abort", done);
    });
    due = this.claim(agentId);
    return due;
  }

  /** wake ends an agent's long poll now (after its token changed or it was removed). */
  wake(agentId: string) {
    for (const wake of this.waiters.get(agentId) ?? []) wake();
  }

  /** connected tells whether an agent is waiting on its long poll right now. */
  connected(agentId: string): boolean {
    return (this.waiters.get(agentId)?.size ?? 0) > 0;
  }

  complete(agentId: string, id: string, ok: boolean, error?: string) {
    const row = this.db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.agentId, agentId))).get();
    if (!row) throw notFound("Task");
    if (row.status === "done" || row.status === "failed") return;
    this.db.update(tasks).set({ status: ok ? "done" : "failed", error: error ?? null, updatedAt: now() }).where(eq(tasks.id, id)).run();
    if (!ok) log.warn("task failed", { agent: agentId, kind: row.kind, error });
    this.onResult(agentId, JSON.parse(row.payload) as Task, ok, error);
  }

  private claim(agentId: string): TaskEnvelope[] {
    const at = now();
    const rows = this.due.all({ agentId, at });
    const out: TaskEnvelope[] = [];
    for (const r of rows) {
      if (r.attempts >= MAX_ATTEMPTS) {
        this.db.update(tasks).set({ status: "failed", error: "no answer from the agent after 5 attempts", updatedAt: at }).where(eq(tasks.id, r.id)).run();
        continue;
      }
      out.push({ id: r.id, task: JSON.parse(r.payload) as Task });
    }
    if (out.length)
      this.db
        .update(tasks)
        .set({ status: "sent", leaseUntil: new Date(Date.now() + LEASE_MS).toISOString(), updatedAt: at, attempts: sql`${tasks.attempts} + 1` })
        .where(inArray(tasks.id, out.map((t) => t.id)))
        .run();
    return out;
  }
}
