import { UsageError, type Command } from "../../shared/command";
import type { SiteTrafficHour } from "../../protocol/site";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";
import { bytes, table } from "../output";

/** statsCommand shows what a site served, per hour, summed over every node (from their nginx logs). */
export const statsCommand: Command = {
  name: "stats",
  group: "sites",
  summary: "A site's traffic per hour: requests, bytes, status classes",
  usage: "stats SITE [--hours N] [--json]",
  options: { hours: { type: "string", value: "N", description: "How many hours back (default 24, at most 2160)" }, ...JSON_OPT },
  examples: ["sprout stats blog", "sprout stats blog --hours 168 --json"],
  run: action(async (v, pos) => {
    const [site] = pos;
    if (!site) throw new UsageError("stats needs a SITE");
    const hours = v.hours === undefined ? 24 : Number(v.hours);
    if (!Number.isInteger(hours) || hours < 1 || hours > 2160) throw new UsageError("--hours must be a whole number from 1 to 2160");
    const list = await Api.fromEnv().call<SiteTrafficHour[]>("GET", `/api/site/${encodeURIComponent(site)}/traffic?hours=${hours}`);
    const total = list.reduce((n, h) => n + h.requests, 0);
    return out(v, list, () =>
      list.length
        ? table(["HOUR (UTC)", "REQUESTS", "BYTES", "2XX", "3XX", "4XX", "5XX"], list.map((h) => [h.hour.slice(0, 13).replace("T", " "), String(h.requests), bytes(h.bytes), String(h.s2xx), String(h.s3xx), String(h.s4xx), String(h.s5xx)])) + `${total} requests in the last ${hours} h\n`
        : `No requests to ${site} in the last ${hours} h.\n`,
    );
  }),
};
