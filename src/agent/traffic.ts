import { existsSync, openSync, readSync, closeSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TrafficCounts } from "../protocol/agent";

/** ACCESS_LOG_FORMAT is nginx's log line for traffic counting: host, status, bytes sent. */
export const ACCESS_LOG_FORMAT = "'$host $status $body_bytes_sent'";

/** ROTATE_BYTES: the access log is rotated past this size, so it never fills the disk. */
const ROTATE_BYTES = 16 * 1024 * 1024;

/**
 * Traffic reads the node's compact nginx access log (`<data>/nginx/access.log`) where it left off,
 * and counts requests, bytes and status classes per site and hour. The counts go to the master with
 * the next heartbeat and are dropped once it has them (a lost heartbeat sends them again). The log
 * is rotated (renamed, nginx told to reopen it with SIGUSR1, the old one read to its end and
 * deleted) when it grows past 16 MB.
 */
export class Traffic {
  private offset = 0;
  private pending = new Map<string, TrafficCounts>();
  readonly path: string;

  constructor(
    nginxPrefix: string,
    private domain: () => string | null,
    private reopen: () => void,
  ) {
    this.path = join(nginxPrefix, "access.log");
    // Counting starts at the end of what an earlier run left: those lines were sent already or are lost.
    this.offset = existsSync(this.path) ? statSync(this.path).size : 0;
  }

  /** collect reads new lines and answers every count not yet acknowledged by the master. */
  collect(): TrafficCounts[] {
    if (existsSync(this.path)) {
      const size = statSync(this.path).size;
      if (size < this.offset) this.offset = 0;
      this.read(this.path, this.offset, size);
      this.offset = size;
      if (size > ROTATE_BYTES) this.rotate();
    }
    return [...this.pending.values()];
  }

  /** acknowledged drops counts the master has stored. */
  acknowledged(sent: TrafficCounts[]) {
    for (const c of sent) {
      const key = `${c.site}|${c.hour}`;
      const now = this.pending.get(key);
      if (!now) continue;
      for (const k of ["requests", "bytes", "s2xx", "s3xx", "s4xx", "s5xx"] as const) now[k] -= c[k];
      if (now.requests <= 0) this.pending.delete(key);
    }
  }

  private rotate() {
    const old = `${this.path}.1`;
    rmSync(old, { force: true });
    renameSync(this.path, old);
    this.reopen();
    // nginx may still write a few lines to the old file until it has reopened: read them shortly.
    setTimeout(() => {
      if (existsSync(old)) this.read(old, this.offset, statSync(old).size);
      rmSync(old, { force: true });
      this.offset = 0;
    }, 1000);
  }

  private read(file: string, from: number, to: number) {
    if (to <= from) return;
    const domain = this.domain();
    if (!domain) return;
    const fd = openSync(file, "r");
    try {
      const buf = Buffer.alloc(Math.min(to - from, 64 * 1024 * 1024));
      const n = readSync(fd, buf, 0, buf.length, from);
      const text = buf.subarray(0, n).toString("utf8");
      const hour = new Date().toISOString().slice(0, 13) + ":00:00Z";
      const suffix = `.${domain}`;
      for (const line of text.split("\n")) {
        const [host, status, bytes] = line.split(" ");
        if (!host || !status || !host.endsWith(suffix)) continue;
        const label = host.slice(0, -suffix.length);
        const site = label.includes("--") ? label.slice(label.lastIndexOf("--") + 2) : label;
        if (!/^[a-z0-9-]{1,63}$/.test(site)) continue;
        const key = `${site}|${hour}`;
        const c = this.pending.get(key) ?? { site, hour, requests: 0, bytes: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0 };
        c.requests++;
        c.bytes += Number(bytes) || 0;
        const cls = `s${status[0]}xx` as "s2xx";
        if (cls in c) c[cls]++;
        this.pending.set(key, c);
      }
    } finally {
      closeSync(fd);
    }
  }
}
