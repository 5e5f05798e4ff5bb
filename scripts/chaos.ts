// scripts/chaos: `bun run chaos [--minutes N]` (default 3). A master and three nodes; deploys,
// promotions and rollbacks of several sites at random while the master, agents and nginx are killed
// and restarted at random; then every node must serve what the master records within 60 s of the last
// restart. Prints the counts; exits 1 when the cluster did not converge or a command ran as long as its
// timeout. The scenario itself is scripts/chaos-run.ts (also run, shorter, by the test suite).
import { cleanup } from "../test/helpers/cluster";
import { report, runChaos } from "./chaos-run";

const i = process.argv.indexOf("--minutes");
const minutes = i > 0 ? Number(process.argv[i + 1]) : 3;
if (!(minutes > 0)) {
  console.error("usage: bun run chaos [--minutes N]");
  process.exit(2);
}
let code = 1;
try {
  const r = await runChaos({ seconds: Math.round(minutes * 60) });
  console.log(report(r));
  code = r.remaining.length || r.overTimeout.length ? 1 : 0;
} finally {
  await cleanup();
}
process.exit(code);
