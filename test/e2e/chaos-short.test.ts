// A short chaos run (the full one is `bun run chaos`): about 75 s of deploys, promotions and rollbacks
// while the master, agents and nginx are killed at random; then the cluster converges within 60 s of
// the last restart and no command ran as long as its own timeout.
import { afterAll, expect, test } from "bun:test";
import { cleanup } from "../helpers/cluster";
import { report, runChaos } from "../../scripts/chaos-run";

afterAll(cleanup);

test("after kills of the master, agents and nginx during deploys, every node serves what the master records within 60 s", async () => {
  const r = await runChaos({ seconds: 75, say: () => {} });
  console.log(report(r));
  expect(r.kills.master + r.kills.agent + r.kills.nginx).toBeGreaterThan(0);
  expect(r.overTimeout).toEqual([]);
  expect(r.remaining).toEqual([]);
}, 600_000);
