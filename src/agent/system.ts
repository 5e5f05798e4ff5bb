import { cpus, freemem, loadavg, totalmem, uptime } from "node:os";
import { statfsSync } from "node:fs";
import type { SystemReport } from "../protocol/agent";

let last = cpuTimes();

function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/** systemReport measures the node: CPU use since the last call, memory, disk of the data folder, load. */
export function systemReport(dataDir: string, nginx: { state: SystemReport["nginx"]; reloads: number }, sites: number): SystemReport {
  const now = cpuTimes();
  const dt = now.total - last.total;
  const cpu = dt > 0 ? 100 * (1 - (now.idle - last.idle) / dt) : 0;
  last = now;
  const fs = statfsSync(dataDir);
  return {
    cpu_percent: Math.round(cpu * 10) / 10,
    cpus: cpus().length,
    load: loadavg(),
    mem_total: totalmem(),
    mem_free: freemem(),
    disk_total: fs.blocks * fs.bsize,
    disk_free: fs.bavail * fs.bsize,
    nginx: nginx.state,
    nginx_reloads: nginx.reloads,
    uptime: uptime(),
    sites,
  };
}
