import { t } from "elysia";
import { AgentRole } from "./agent";

/** UpgradeStep is one agent's part of a rolling upgrade. */
export const UpgradeStep = t.Object({
  agent: t.String(),
  role: AgentRole,
  /** from: the version the agent ran when the rollout began. */
  from: t.Union([t.String(), t.Null()]),
  /**
   * status: waiting (its turn has not come), upgrading (told to; the master waits for it to come back
   * with the new version and ready), done, current (already ran the version), skipped (offline), failed.
   */
  status: t.Union([t.Literal("waiting"), t.Literal("upgrading"), t.Literal("done"), t.Literal("current"), t.Literal("skipped"), t.Literal("failed")]),
  error: t.Optional(t.String()),
});
export type UpgradeStep = typeof UpgradeStep.static;

/**
 * Rollout is GET/POST /api/agents/upgrade (admin): a rolling upgrade of every agent to the master's
 * own binary, one agent at a time (nodes, then gateways), each back and ready before the next.
 */
export const Rollout = t.Object({
  /** version: the master's, which every agent is brought to. */
  version: t.String(),
  status: t.Union([t.Literal("running"), t.Literal("done"), t.Literal("failed")]),
  started_at: t.String(),
  finished_at: t.Union([t.String(), t.Null()]),
  steps: t.Array(UpgradeStep),
  error: t.Optional(t.String()),
});
export type Rollout = typeof Rollout.static;

/** RolloutStart is POST /api/agents/upgrade. */
export const RolloutStart = t.Object({
  /** timeout: seconds one agent may take to come back upgraded and ready (default 180). */
  timeout: t.Optional(t.Integer({ minimum: 10, maximum: 3600 })),
});
export type RolloutStart = typeof RolloutStart.static;
