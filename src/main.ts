#!/usr/bin/env bun
// argv -> the command of that name (master, agent, up or a CLI verb); nothing else lives here. Only
// the chosen command's module is loaded (see cli/commands/lazy.ts): start-up is most of a quick
// command's latency.
import { COMMAND_LOADERS, loadAll } from "./cli/commands/lazy";
import { closest, parseCommand, renderHelp, UsageError } from "./shared/command";
import { SproutError } from "./shared/errors";
import { VERSION } from "./shared/version";

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const commands = await loadAll();
    const target = name === "help" && rest[0] ? commands.find((c) => c.name === rest[0]) : undefined;
    const { topHelp } = await import("./cli/help");
    process.stdout.write(target ? renderHelp(target) : topHelp(commands));
    return 0;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`sprout ${VERSION}\n`);
    return 0;
  }
  const loader = COMMAND_LOADERS.find((c) => c.name === name);
  if (!loader) {
    const near = closest(name, COMMAND_LOADERS.map((c) => c.name));
    process.stderr.write(`sprout: unknown command "${name}".${near ? ` Did you mean \`sprout ${near}\`?` : ""} Run \`sprout --help\` for the list.\n`);
    return 2;
  }
  const cmd = await loader.load();
  try {
    const { values, positionals } = parseCommand(cmd, rest);
    if (values.help) {
      process.stdout.write(renderHelp(cmd));
      return 0;
    }
    return await cmd.run(values, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sprout ${cmd.name}: ${e.message}\n\n${renderHelp(cmd)}`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Servers (master, agent, up) resolve only when they have shut down.
    process.exit(code);
  },
  (e) => {
    process.stderr.write(`sprout: ${e instanceof Error ? e.message : String(e)}\n${e instanceof SproutError && e.hint ? `hint: ${e.hint}\n` : ""}`);
    process.exit(1);
  },
);
