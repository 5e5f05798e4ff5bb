import { Gauge, Registry } from "prom-client";
import type { AgentStatus } from "../protocol/agent";

/**
 * agentReadiness lists why a node should not take traffic or deployments: nginx not running or
 * not answering, or less free disk than `minFreeBytes`. Empty when ready.
 */
export async function agentReadiness(status: AgentStatus, nginxUrl: string, minFreeBytes: number): Promise<string[]> {
  const problems: string[] = [];
  if (status.system.nginx !== "running") problems.push(`nginx is ${status.system.nginx}`);
  else if (!(await fetch(nginxUrl, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false))) problems.push("nginx does not answer");
  if (status.system.disk_free < minFreeBytes) problems.push(`disk: ${status.system.disk_free} bytes free, below the floor of ${minFreeBytes}`);
  return problems;
}

/** agentMetrics renders the node's figures in Prometheus' text format, read when scraped. */
export async function agentMetrics(status: AgentStatus, lastReloadMs: number): Promise<{ text: string; contentType: string }> {
  const registry = new Registry();
  const gauge = (name: string, help: string, value: number) => new Gauge({ name, help, registers: [registry] }).set(value);
  gauge("sprout_node_disk_free_bytes", "Free disk of the data folder", status.system.disk_free);
  gauge("sprout_node_disk_total_bytes", "Size of the data folder's file system", status.system.disk_total);
  gauge("sprout_node_sites", "Sites this node holds", status.system.sites);
  gauge("sprout_node_nginx_reloads_total", "nginx reloads since the agent started", status.system.nginx_reloads);
  gauge("sprout_node_nginx_last_reload_seconds", "How long the last nginx reload took, until new workers served", lastReloadMs / 1000);
  gauge("sprout_node_nginx_up", "1 when nginx runs", status.system.nginx === "running" ? 1 : 0);
  gauge("sprout_node_master_connected", "1 while the agent holds its long poll to the master", status.master_connected ? 1 : 0);
  gauge("sprout_node_memory_free_bytes", "Free memory of the machine", status.system.mem_free);
  gauge("sprout_node_load1", "One-minute load average", status.system.load[0] ?? 0);
  return { text: await registry.metrics(), contentType: registry.contentType };
}
