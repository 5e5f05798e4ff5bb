import type { SystemReport } from "../../protocol/agent";

/** HistorySample is one node's measures at one moment. */
export interface HistorySample {
  at: number;
  cpu: number;
  /** mem: the share of memory in use, 0 to 100. */
  mem: number;
  diskFree: number;
}

/** SAMPLE_EVERY_MS and KEEP: one sample per 10 s of heartbeats, the last 10 minutes. */
const SAMPLE_EVERY_MS = 10_000;
const KEEP = 60;

/**
 * NodeHistory keeps each node's recent measures in memory, from its heartbeats, for the nodes page's
 * sparklines. It is a picture of the last minutes, not a record: a restart of the master starts it
 * anew, and nothing of it is written to the database (a thousand nodes' heartbeats stay cheap).
 */
export class NodeHistory {
  private samples = new Map<string, HistorySample[]>();

  /** add records a heartbeat's measures, at most one sample per 10 s per node. */
  add(agentId: string, s: SystemReport, at = Date.now()) {
    const list = this.samples.get(agentId) ?? [];
    const last = list.at(-1);
    if (last && at - last.at < SAMPLE_EVERY_MS) return;
    list.push({ at, cpu: s.cpu_percent, mem: s.mem_total > 0 ? Math.round((1 - s.mem_free / s.mem_total) * 1000) / 10 : 0, diskFree: s.disk_free });
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    this.samples.set(agentId, list);
  }

  /** of answers a node's samples, oldest first (empty for a node not heard from since the master started). */
  of(agentId: string): HistorySample[] {
    return this.samples.get(agentId) ?? [];
  }

  /** forget drops a removed node's samples. */
  forget(agentId: string) {
    this.samples.delete(agentId);
  }
}
