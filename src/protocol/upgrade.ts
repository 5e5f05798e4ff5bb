import { t } from "elysia";
import { AgentRole } from "./agent";

/** UpgradeStep is one agent's part of a rolling upgrade. */
export const UpgradeStep = t.Object({
  agent: t.String(),
  role: AgentRole,
  /** from: the version the agent ran when the rollout began. */
  from: t.Union([t.String(), t.Null()]),
  /**
   * status: waiting (its turn has not come), draining (--drain: its sites get their replicas on other
   * nodes first), upgrading (told to; the master waits for it to come back
   * with the new version and ready), done, current (already ran the version), skipped (offline), failed.
   */
  status: t.Union([t.Literal("waiting"), t.Literal("draining"), t.Literal("upgrading"), t.Literal("done"), t.Literal("current"), t.Literal("skipped"), t.Literal("failed")]),
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
  drain: t.Boolean(),
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
  /**
   * drain: drain each node before its restart, so that every site it holds (one-replica sites too)
   * is served by another node meanwhile; it is put back in service once upgraded.
   */
  drain: t.Optional(t.Boolean()),
});
export type RolloutStart = typeof RolloutStart.static;
