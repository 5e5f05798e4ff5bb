import { Elysia, t } from "elysia";
import { AgentCreate, AgentDrain, AgentSetUrl, Heartbeat, TaskResult } from "../../protocol/agent";
import { RolloutStart } from "../../protocol/upgrade";
import type { Services } from "../context";
import { requireAdmin } from "../services/auth";

/** agentRoutes: nodes as the admin sees them, and the agents' own heartbeat and task channel. */
export const agentRoutes = (s: Services) =>
  new Elysia({ name: "routes/agents" })
    .post("/api/agent", async ({ body, request, set }) => {
      requireAdmin(await s.user(request));
      set.status = 201;
      return s.agents.create(body.name, body.url, body.role);
    }, { body: AgentCreate })
    .get("/api/agents", async ({ request }) => {
      requireAdmin(await s.user(request));
      return s.agents.list();
    })
    .get("/api/agent/:id", async ({ params, request }) => {
      requireAdmin(await s.user(request));
      return s.agents.info(s.agents.get(params.id));
    })
    .post("/api/agent/:id/url", async ({ params, body, request }) => {
      requireAdmin(await s.user(request));
      return s.agents.setUrl(s.agents.byName(params.id).id, body.url);
    }, { body: AgentSetUrl })
    .post("/api/:agent_id/token", async ({ params, request }) => {
      requireAdmin(await s.user(request));
      return s.agents.rotateToken(params.agent_id);
    })
    .post("/api/agent/:id/token", async ({ params, request }) => {
      requireAdmin(await s.user(request));
      return s.agents.rotateToken(s.agents.byName(params.id).id);
    })
    .post("/api/agent/:id/drain", async ({ params, body, request }) => {
      requireAdmin(await s.user(request));
      return s.agents.drain(s.agents.byName(params.id).id, body?.undo);
    }, { body: t.Optional(AgentDrain) })
    // ?force=true removes a node even when it holds the only copy of a site.
    .delete("/api/agent/:id", async ({ params, query, request }) => {
      requireAdmin(await s.user(request));
      s.agents.remove(s.agents.byName(params.id).id, query.force === "true");
      return { ok: true as const };
    }, { query: t.Object({ force: t.Optional(t.String()) }) })
    .post("/api/agent/heartbeat", async ({ body, request }) => {
      const { agentId } = await s.agent(request);
      const answer = s.agents.heartbeat(agentId, body);
      const upgrade = s.upgrades.onHeartbeat(agentId, body);
      return upgrade ? { ...answer, upgrade } : answer;
    }, { body: Heartbeat })
    // Rolling upgrade of every agent to the master's own binary, one at a time (see UpgradeService).
    .post("/api/agents/upgrade", async ({ body, request, set }) => {
      requireAdmin(await s.user(request));
      set.status = 202;
      return s.upgrades.start(body?.timeout, body?.drain);
    }, { body: t.Optional(RolloutStart) })
    .get("/api/agents/upgrade", async ({ request }) => {
      requireAdmin(await s.user(request));
      return s.upgrades.status();
    })
    // Long poll: answers at once when tasks are due, else holds the request until one is queued.
    .get("/api/agent/tasks", async ({ query, request }) => {
      const a = await s.agent(request);
      return s.tasks.take(a.agentId, Math.min(query.wait ?? 25, 55) * 1000, request.signal);
    }, { query: t.Object({ wait: t.Optional(t.Numeric({ minimum: 0, maximum: 60 })) }) })
    .post("/api/agent/tasks/:id/result", async ({ params, body, request }) => {
      s.tasks.complete((await s.agent(request)).agentId, params.id, body.ok, body.error);
      return { ok: true as const };
    }, { body: TaskResult });
