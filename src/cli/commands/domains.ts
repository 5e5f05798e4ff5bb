import { UsageError, type Command } from "../../shared/command";
import type { DomainInfo } from "../../protocol/domain";
import { Api } from "../api";
import { JSON_OPT, action, out, siteFlag } from "../action";
import { ago, table } from "../output";

/** describe says what a domain needs next, with the exact records to create while it is not active. */
function describe(d: DomainInfo): string {
  const lines = [`${d.name} -> site ${d.site}: ${d.status}${d.certificate ? `, certificate ${d.certificate.status}${d.certificate.expires_at ? ` until ${d.certificate.expires_at.slice(0, 10)}` : ""}` : ""}`];
  if (d.status !== "active") {
    lines.push("Create these DNS records at your DNS provider (Sprout checks them periodically):");
    for (const r of d.records) lines.push(`  ${r.name.padEnd(40)} ${r.type.padEnd(6)} ${r.value}`);
  }
  if (d.last_error) lines.push(`Last check: ${d.last_error}`);
  if (d.certificate?.last_error) lines.push(`Certificate: ${d.certificate.last_error}`);
  return `${lines.join("\n")}\n`;
}

export const domainsCommand: Command = {
  name: "domains",
  group: "sites",
  summary: "Serve your sites at domains of your own: add one, list them, check or remove one",
  usage: "domains [list | add DOMAIN --site NAME | check DOMAIN | remove DOMAIN] [--json]",
  options: {
    site: { type: "string", value: "NAME", description: "The site the domain serves" },
    ...JSON_OPT,
  },
  examples: ["sprout domains add www.example.com --site blog", "sprout domains", "sprout domains check www.example.com", "sprout domains remove www.example.com"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv();
    const [sub = "list", name] = pos;
    const need = () => {
      if (!name) throw new UsageError(`domains ${sub} needs a DOMAIN`);
      return name.toLowerCase();
    };
    if (sub === "list") {
      const list = await api.call<DomainInfo[]>("GET", "/api/domains");
      return out(v, list, () =>
        list.length
          ? table(
              ["DOMAIN", "SITE", "STATUS", "CERTIFICATE", "CHECKED", "PROBLEM"],
              list.map((d) => [d.name, d.site, d.status, d.certificate ? `${d.certificate.status}${d.certificate.expires_at ? ` (expires ${d.certificate.expires_at.slice(0, 10)})` : ""}` : "", d.checked_at ? ago(d.checked_at) : "never", d.last_error ?? d.certificate?.last_error ?? ""]),
            )
          : "No custom domains. Add one: sprout domains add www.example.com --site NAME\n",
      );
    }
    if (sub === "add") {
      const d = await api.call<DomainInfo>("POST", "/api/domains", { name: need(), site: siteFlag(v) });
      return out(v, d, () => describe(d));
    }
    if (sub === "check") {
      const d = await api.call<DomainInfo>("POST", `/api/domains/${encodeURIComponent(need())}/check`);
      return out(v, d, () => describe(d));
    }
    if (sub === "remove") {
      const n = need();
      await api.call("DELETE", `/api/domains/${encodeURIComponent(n)}`);
      return out(v, { ok: true, name: n }, () => `${n} removed; it is no longer served.\n`);
    }
    throw new UsageError(`unknown subcommand "${sub}"`);
  }),
};
