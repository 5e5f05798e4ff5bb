import type { Db } from "../db";
import type { MasterConfig } from "./config";
import { AgentService } from "./services/agents";
import { ApiTokenService } from "./services/api-tokens";
import { AuditService } from "./services/audit";
import { TrafficService } from "./services/traffic";
import { AuthService, type Caller, type UserCaller } from "./services/auth";
import { DeploymentService } from "./services/deployments";
import { loadKeys } from "./services/keys";
import { QuotaService } from "./services/quotas";
import { SiteService } from "./services/sites";
import { TaskQueue } from "./services/tasks";
import { RouteService } from "./services/routes";
import { DomainService } from "./services/domains";
import { AcmeService } from "./services/acme";
import { NodeHistory } from "./services/node-history";
import { unauthorized } from "../shared/errors";
import { UpgradeService } from "./services/upgrades";

/** Services is the master's logic, built once and shared by the API and UI routes and the jobs. */
export interface Services {
  db: Db;
  config: MasterConfig;
  auth: AuthService;
  apiTokens: ApiTokenService;
  sites: SiteService;
  deployments: DeploymentService;
  agents: AgentService;
  tasks: TaskQueue;
  quotas: QuotaService;
  audit: AuditService;
  traffic: TrafficService;
  /** nodeHistory: each node's measures of the last minutes (the nodes page's sparklines). */
  nodeHistory: NodeHistory;
  routes: RouteService;
  domains: DomainService;
  /** acme issues certificates for verified domains; null when the master has no --acme-directory. */
  acme: AcmeService | null;
  /** upgrades runs rolling upgrades of the agents to the master's binary. */
  upgrades: UpgradeService;
  /**
   * user resolves the request's bearer token to a user, or throws 401, and applies an API token's
   * scope to the request (403); `site` names the site the request acts on when the URL does not.
   */
  user(req: Request, site?: string): Promise<UserCaller>;
  /** agent resolves the request's bearer token to an agent, or throws 401. */
  agent(req: Request): Promise<Extract<Caller, { kind: "agent" }>>;
}

/** callers remembers which user each request acted as, for the audit log (see server.ts). */
const callers = new WeakMap<Request, string>();

/** callerOf answers the user a request was authenticated as, if it was. */
export const callerOf = (req: Request): string | undefined => callers.get(req);

export async function createServices(db: Db, config: MasterConfig): Promise<Services> {
  const keys = await loadKeys(db);
  const tasks = new TaskQueue(db);
  const auth = new AuthService(db, keys, config);
  const quotas = new QuotaService(db, config);
  const sites = new SiteService(db, config, tasks, quotas);
  const agents = new AgentService(db, config, keys, tasks);
  const traffic = new TrafficService(db);
  agents.onTraffic = (counts) => traffic.add(counts);
  const nodeHistory = new NodeHistory();
  agents.onMeasures = (id, system) => nodeHistory.add(id, system);
  const deployments = new DeploymentService(db, config, keys, sites, agents, tasks, quotas);
  sites.onRemoved = () => deployments.manifests.collect();
  const domains = new DomainService(db, config, sites, agents, quotas);
  const acme = config.acme ? new AcmeService(db, config.acme, (owner) => quotas.certificatesPerHour(owner)) : null;
  if (acme) domains.onVerified = (id) => void acme.issue(id);
  if (acme && config.acme?.dnsHook) acme.wildcardDomain = config.domain;
  return {
    db,
    config,
    auth,
    apiTokens: new ApiTokenService(db),
    sites,
    deployments,
    agents,
    tasks,
    quotas,
    audit: new AuditService(db),
    traffic,
    nodeHistory,
    routes: new RouteService(db, config, () => {
      const w = acme?.wildcard();
      return w?.cert_pem && w.key_pem ? { cert_pem: w.cert_pem, key_pem: w.key_pem } : null;
    }),
    domains,
    acme,
    upgrades: new UpgradeService(agents),
    async user(req, site) {
      const c = await auth.authenticate(req.headers.get("authorization"), "user");
      if (c.kind !== "user") throw unauthorized();
      auth.authorize(c, req.method, new URL(req.url).pathname, site);
      callers.set(req, c.userId);
      return c;
    },
    async agent(req) {
      const c = await auth.authenticate(req.headers.get("authorization"), "agent");
      if (c.kind !== "agent") throw unauthorized();
      return c;
    },
  };
}
