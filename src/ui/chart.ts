import type { SiteTrafficHour } from "../protocol/site";

/** TrafficRange is what the site page's traffic card can show: the last 24 hours or the last 7 days. */
export type TrafficRange = "24h" | "7d";
export const TRAFFIC_HOURS: Record<TrafficRange, number> = { "24h": 24, "7d": 168 };

/** TrafficSummary is what the traffic card shows: every hour of the range (zeros filled in), totals and the chart. */
export interface TrafficSummary {
  range: TrafficRange;
  hours: SiteTrafficHour[];
  total: { requests: number; bytes: number; s2xx: number; s3xx: number; s4xx: number; s5xx: number };
  peak: SiteTrafficHour | null;
  svg: string;
}

const hourKey = (t: number) => new Date(t).toISOString().slice(0, 13) + ":00:00Z";

/**
 * summarizeTraffic lays the master's hourly counts (hours without traffic are absent) on every hour
 * of the range, oldest first, ending with the current hour, and draws them. `nowMs` is for tests.
 */
export function summarizeTraffic(rows: SiteTrafficHour[], range: TrafficRange, nowMs = Date.now()): TrafficSummary {
  const n = TRAFFIC_HOURS[range];
  const byHour = new Map(rows.map((r) => [r.hour, r]));
  const current = Date.parse(hourKey(nowMs));
  const hours: SiteTrafficHour[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const hour = hourKey(current - i * 3600_000);
    hours.push(byHour.get(hour) ?? { hour, requests: 0, bytes: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0 });
  }
  const total = { requests: 0, bytes: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0 };
  let peak: SiteTrafficHour | null = null;
  for (const h of hours) {
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += h[k];
    if (h.requests && (!peak || h.requests > peak.requests)) peak = h;
  }
  return { range, hours, total, peak, svg: trafficSvg(hours, range, total.requests, peak) };
}

/**
 * trafficSvg draws requests per hour as bars, the part that were errors (4xx and 5xx) stacked on top
 * in the error colour. It is plain SVG made on the server: no script, and it scales to any width
 * (the page's CSS gives it its colours, so dark mode works). Screen readers get one sentence that
 * says what it shows; the numbers are also in the card's text.
 */
function trafficSvg(hours: SiteTrafficHour[], range: TrafficRange, total: number, peak: SiteTrafficHour | null): string {
  const W = 10;
  const H = 100;
  const max = Math.max(1, ...hours.map((h) => h.requests));
  const label = `Requests per hour over the last ${range === "24h" ? "24 hours" : "7 days"}: ${total} in all${peak ? `, at most ${peak.requests} (${peak.hour.slice(0, 13).replace("T", " ")}:00 UTC)` : ""}.`;
  const bars = hours
    .map((h, i) => {
      if (!h.requests) return "";
      const errors = h.s4xx + h.s5xx;
      const height = (h.requests / max) * (H - 2);
      const errHeight = (errors / max) * (H - 2);
      const x = i * W + 1;
      const title = `<title>${h.hour.slice(0, 13).replace("T", " ")}:00 UTC: ${h.requests} requests${errors ? `, ${errors} errors` : ""}</title>`;
      return `<g>${title}<rect class="bar" x="${x}" y="${(H - height).toFixed(2)}" width="${W - 2}" height="${(height - errHeight).toFixed(2)}"/>${
        errors ? `<rect class="bar-error" x="${x}" y="${(H - height).toFixed(2)}" width="${W - 2}" height="${errHeight.toFixed(2)}"/>` : ""
      }</g>`;
    })
    .join("");
  return `<svg class="chart" viewBox="0 0 ${hours.length * W} ${H}" preserveAspectRatio="none" role="img" aria-label="${Bun.escapeHTML(label)}"><line class="axis" x1="0" y1="${H - 0.5}" x2="${hours.length * W}" y2="${H - 0.5}"/>${bars}</svg>`;
}

/**
 * sparkline draws a small line of percentages (0 to 100), oldest first, for a node's CPU or memory
 * over the last minutes. `label` names the measure for screen readers, which get the range in words.
 */
export function sparkline(values: number[], label: string): string {
  if (values.length < 2) return "";
  const W = 100;
  const H = 24;
  const step = W / (values.length - 1);
  const y = (v: number) => (H - 1 - (Math.min(100, Math.max(0, v)) / 100) * (H - 2)).toFixed(1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(" ");
  const lo = Math.round(Math.min(...values));
  const hi = Math.round(Math.max(...values));
  const words = `${label} over the last ${Math.max(1, Math.round(values.length / 6))} min: from ${lo}% to ${hi}%, now ${Math.round(values.at(-1)!)}%`;
  return `<svg class="spark" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${Bun.escapeHTML(words)}"><polyline points="${points}"/></svg>`;
}
