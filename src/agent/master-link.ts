import type { Heartbeat, HeartbeatAnswer, TaskEnvelope, TaskResult } from "../protocol/agent";
import type { StatusReport } from "../protocol/deployment";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { LEGACY, SELF, compatible, peerOf, versionHeaders, versionMismatch } from "../protocol/version";
import { secureFetch } from "../shared/tls";

const log = logger("agent");

/** FatalAuthError: the master refused this agent's token; retrying cannot help. */
export class FatalAuthError extends Error {}

/**
 * IncompatibleVersion: the master and this agent cannot work together (see protocol/version.ts).
 * Not fatal: the agent keeps serving what it has and keeps asking, so that upgrading either side
 * (`sprout upgrade` on the node, or the master) heals it without a restart.
 */
export class IncompatibleVersion extends Error {}

/** AGENT_HEADERS name this agent's build on every request to the master. */
export const AGENT_HEADERS = { ...versionHeaders(), "user-agent": `sprout-agent/${VERSION}` };

/**
 * MasterLink is the agent's side of the control path: heartbeats, the task long poll, and status
 * reports, which wait in an ordered queue while the master is unreachable (sites keep being served).
 */
export class MasterLink {
  private queue: StatusReport[] = [];
  private flushing = false;
  private abort = new AbortController();
  connected = false;

  constructor(
    private master: string,
    private token: string,
    /** pin: the master's certificate pin, when it is self-signed. */
    private pin?: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    const res = await secureFetch(`${this.master}${path}`, {
      method,
      signal,
      headers: { ...AGENT_HEADERS, authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, this.pin);
    // Either side may be the one that knows the pair cannot work: the master refuses with 409, or
    // its answer names a protocol this agent no longer speaks.
    const master = peerOf(res.headers) ?? LEGACY;
    if (!compatible(SELF, master)) {
      const e = versionMismatch(master, SELF, "agent", this.master);
      throw new IncompatibleVersion(`${e.message} ${e.hint}`);
    }
    if (res.status === 401) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new FatalAuthError(`The master refused this agent's token: ${(e.error?.message ?? "401").replace(/\.+$/, "")}. An admin makes a new one with \`sprout agents rotate-token NAME\`; restart the agent with it.`);
    }
    if (res.status === 409) {
      // The agent runs with another --role than it was registered with: retrying cannot help.
      const e = (await res.clone().json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } };
      if (e.error?.code === "wrong_role") throw new FatalAuthError(`${e.error.message} ${e.error.hint ?? ""}`.trim());
      if (e.error?.code === "incompatible_version") throw new IncompatibleVersion(`${e.error.message} ${e.error.hint ?? ""}`.trim());
    }
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    return (await res.json()) as T;
  }

  heartbeat(hb: Heartbeat): Promise<HeartbeatAnswer> {
    return this.call("POST", "/api/agent/heartbeat", hb);
  }

  /** tasks long-polls the master; it answers as soon as a task is queued for this agent. */
  async tasks(waitSeconds = 25): Promise<TaskEnvelope[]> {
    const r = await this.call<TaskEnvelope[]>("GET", `/api/agent/tasks?wait=${waitSeconds}`, undefined, (waitSeconds + 10) * 1000);
    this.connected = true;
    return r;
  }

  result(id: string, r: TaskResult) {
    return this.call("POST", `/api/agent/tasks/${id}/result`, r);
  }

  /** report queues a status report and sends the queue in order. */
  report(r: StatusReport) {
    this.queue.push(r);
    void this.flush();
  }

  /** flushed resolves once every queued report reached the master (for tests and shutdown). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length && !this.abort.signal.aborted) {
        try {
          await this.call("POST", "/api/deployment/status", this.queue[0]);
          this.queue.shift();
        } catch (e) {
          if (e instanceof FatalAuthError) throw e;
          // 4xx other than auth means the master will never accept it (e.g. the site was deleted).
          if (e instanceof Error && /HTTP 4\d\d/.test(e.message)) {
            log.warn("status report refused", { error: e.message });
            this.queue.shift();
            continue;
          }
          await Bun.sleep(1000);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  close() {
    this.abort.abort();
  }
}
