// main.ts loads only the command that runs (src/cli/commands/lazy.ts); help, completion and the docs
// use every command (src/cli/commands/index.ts). Both lists must name the same commands in order.
import { expect, test } from "bun:test";
import { COMMANDS } from "../../src/cli/commands";
import { COMMAND_LOADERS } from "../../src/cli/commands/lazy";

test("every command main.ts can load is the command of that name, in the help's order", async () => {
  expect(COMMAND_LOADERS.map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
  for (const l of COMMAND_LOADERS) expect((await l.load()).name).toBe(l.name);
});
