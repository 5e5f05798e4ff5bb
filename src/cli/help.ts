import type { Command } from "../shared/command";

const GROUPS: Record<Command["group"], string> = {
  modes: "Run Sprout",
  sites: "Deploy and manage sites",
  account: "Account",
  cluster: "Cluster",
  shell: "Shell",
};

/** topHelp is `sprout --help`: every mode and command, grouped, with a few examples. */
export function topHelp(commands: Command[]): string {
  const lines = ["sprout: self-hosted static-site hosting in one binary", "", "Usage: sprout <command> [options]"];
  for (const [g, title] of Object.entries(GROUPS)) {
    const cs = commands.filter((c) => c.group === g);
    if (!cs.length) continue;
    lines.push("", `${title}:`);
    for (const c of cs) lines.push(`  ${c.name.padEnd(14)}${c.summary}`);
  }
  lines.push(
    "",
    "Examples:",
    "  sprout up                                   run a master, an agent and nginx here, with an example site",
    "  sprout login --master http://127.0.0.1:7000",
    "  sprout init                                 write sprout.json: the site and the folder to publish",
    "  sprout deploy --prod --message \"First\"",
    "",
    "Run `sprout <command> --help` for a command's options.",
  );
  return lines.join("\n") + "\n";
}
