import { expect, test } from "bun:test";
import { NodeHistory } from "../../src/master/services/node-history";
import { sparkline, summarizeTraffic } from "../../src/ui/chart";

const now = Date.parse("2026-11-26T10:30:00Z");
const hour = (h: string, requests: number, s4xx = 0) => ({ hour: `2026-11-26T${h}:00:00Z`, requests, bytes: requests * 100, s2xx: requests - s4xx, s3xx: 0, s4xx, s5xx: 0 });

test("the traffic chart has a bar slot for every hour of the range, ending with the current hour, and totals what it shows", () => {
  const t = summarizeTraffic([hour("08", 10, 2), hour("10", 4)], "24h", now);
  expect(t.hours).toHaveLength(24);
  expect(t.hours.at(-1)!.hour).toBe("2026-11-26T10:00:00Z");
  expect(t.hours[0]!.hour).toBe("2026-11-25T11:00:00Z");
  expect(t.total).toMatchObject({ requests: 14, bytes: 1400, s4xx: 2 });
  expect(t.peak!.hour).toBe("2026-11-26T08:00:00Z");
  // Two hours with traffic: two bars; the errors of hour 08 stacked on top.
  expect(t.svg.match(/class="bar"/g)).toHaveLength(2);
  expect(t.svg.match(/class="bar-error"/g)).toHaveLength(1);
  expect(t.svg).toContain('role="img"');
  expect(t.svg).toContain("14 in all");
  expect(summarizeTraffic([], "7d", now).hours).toHaveLength(168);
});

test("an hour older than the range is left out, and no traffic draws no bars", () => {
  const t = summarizeTraffic([{ ...hour("08", 5), hour: "2026-11-20T08:00:00Z" }], "24h", now);
  expect(t.total.requests).toBe(0);
  expect(t.peak).toBeNull();
  expect(t.svg).not.toContain('class="bar"');
});

test("a node's history keeps one sample per 10 s for 10 minutes, and its sparkline says its range in words", () => {
  const h = new NodeHistory();
  const sys = (cpu: number) => ({ cpu_percent: cpu, cpus: 2, load: [0, 0, 0], mem_total: 1000, mem_free: 250, disk_total: 10, disk_free: 5, nginx: "running" as const, nginx_reloads: 0, uptime: 1, sites: 0 });
  for (let i = 0; i < 300; i++) h.add("n1", sys(i % 100), i * 3000);
  const samples = h.of("n1");
  expect(samples).toHaveLength(60);
  expect(samples.at(-1)!.at - samples[0]!.at).toBe(59 * 12_000);
  expect(samples[0]!.mem).toBe(75);
  expect(sparkline([10], "CPU")).toBe("");
  const svg = sparkline([10, 50, 30], "CPU");
  expect(svg).toContain('aria-label="CPU over the last 1 min: from 10% to 50%, now 30%"');
  expect(/points="([^"]*)"/.exec(svg)![1]!.split(" ")).toHaveLength(3);
  h.forget("n1");
  expect(h.of("n1")).toEqual([]);
});
