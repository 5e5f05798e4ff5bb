import type { Services } from "../master/context";
import { loadKeys } from "../master/services/keys";
import { DEPLOYMENT_ID_HEADER, UPLOAD_TOKEN_HEADER } from "../protocol/upload";
import { SproutError, conflict, forbidden } from "../shared/errors";
import { verifyGrant } from "../shared/grant";
import { json } from "../shared/http-errors";
import { logger } from "../shared/log";
import { secureFetch } from "../shared/tls";

const log = logger("ui-upload");

/** GRANT_HEADER carries the deployment's upload grant on the UI's init call, so the master can route it. */
export const GRANT_HEADER = "x-sprout-grant";

/** How long a started browser upload may go on (the node's upload token lives as long). */
const UPLOAD_TTL_MS = 60 * 60 * 1000;

interface Target {
  userId: string;
  agentUrl: string;
  /** agentPin: the node API's certificate pin (self-signed), or null. */
  agentPin: string | null;
  until: number;
}

/**
 * UploadProxy passes the admin UI's two upload calls (POST /api/upload/init and /api/upload/file, the
 * CLI's protocol, unchanged) through the master to the deployment's node, streaming the bodies both
 * ways without holding them.
 *
 * Why a pass-through rather than CORS on the agents: the browser then talks to one origin only, the
 * one it logged in to. An agent's address is often one the browser cannot reach (a private network
 * behind the master's proxy), or plain HTTP under an HTTPS admin page, which browsers block; and the
 * origin an agent would have to allow is not one it knows (the master's public name may differ from
 * its --master URL). Agents stay closed to browsers; their upload routes are unchanged.
 *
 * Checks: the caller's session owns the deployment (else 404, as everywhere); the node is the one
 * named in the master-signed grant for that very deployment, at the URL the master has pinned for it
 * (so a request cannot send the master anywhere else); every byte is checked by the node as for the
 * CLI. The body size is bounded per request by the master's body limit (body-limit.ts).
 */
export class UploadProxy {
  private targets = new Map<string, Target>();
  private publicKey: Promise<string>;

  constructor(private s: Services) {
    this.publicKey = loadKeys(s.db).then((k) => k.grant.publicJwk);
  }

  /** init checks ownership and the grant, remembers the node, and forwards the manifest to it. */
  async init(userId: string, deploymentId: string, req: Request): Promise<Response> {
    this.open(userId, deploymentId);
    const token = req.headers.get(GRANT_HEADER);
    if (!token) throw new SproutError(400, "no_grant", `The ${GRANT_HEADER} header is missing.`, "Start the deploy again from the site's page.");
    const grant = await verifyGrant(await this.publicKey, token);
    if (grant.deployment_id !== deploymentId) throw forbidden("This upload grant is for another deployment.");
    const agent = this.s.agents.get(grant.agent_id);
    if (!agent.url) throw new SproutError(503, "agent_unreachable", `Node ${agent.name} has no known address yet.`, "Wait for its first heartbeat, then deploy again.");
    this.sweep();
    if (req.headers.get("content-length") === null)
      throw new SproutError(411, "length_required", "The manifest must be sent with its length.", "Start the deploy again from the site's page.");
    this.targets.set(deploymentId, { userId, agentUrl: agent.url, agentPin: agent.tlsPin, until: Date.now() + UPLOAD_TTL_MS });
    return this.forward(`${agent.url}/api/upload/init`, req, { "content-type": "application/json", "content-length": req.headers.get("content-length")! }, agent.name, agent.tlsPin);
  }

  /** file forwards one tar of missing files to the node that init named; the node verifies each. */
  async file(userId: string, deploymentId: string, req: Request): Promise<Response> {
    this.open(userId, deploymentId);
    const t = this.targets.get(deploymentId);
    if (!t || t.userId !== userId || t.until < Date.now())
      throw conflict("no_upload", "No upload was started for this deployment from this page.", "Start the deploy again from the site's page.");
    if (req.headers.get("content-length") === null)
      throw new SproutError(411, "length_required", "The upload must declare its length.", "Send the tar as one Blob (the admin UI does).");
    const headers: Record<string, string> = { "content-type": "application/x-tar", "content-length": req.headers.get("content-length")! };
    for (const h of [UPLOAD_TOKEN_HEADER, DEPLOYMENT_ID_HEADER]) headers[h] = req.headers.get(h) ?? "";
    return this.forward(`${t.agentUrl}/api/upload/file`, req, headers, "the node", t.agentPin);
  }

  /** open throws 404 for a deployment that is not the caller's, 409 for one no longer uploading. */
  private open(userId: string, deploymentId: string) {
    const d = this.s.deployments.get(userId, deploymentId, Number.MAX_SAFE_INTEGER);
    if (d.status !== "pending" && d.status !== "uploading")
      throw conflict("not_uploading", `Deployment ${deploymentId} is ${d.status}; it takes no more files.`, "Start a new deploy.");
  }

  private async forward(url: string, req: Request, headers: Record<string, string>, who: string, pin: string | null): Promise<Response> {
    let res: Response;
    try {
      res = await secureFetch(url, {
        method: "POST",
        headers,
        body: req.body,
        signal: req.signal,
        // @ts-expect-error: Bun needs `duplex` to stream a request body.
        duplex: "half",
      }, pin);
    } catch (e) {
      log.warn("passing an upload on to a node failed", { url, error: e instanceof Error ? e.message : String(e) });
      return json(502, { error: { code: "agent_unreachable", message: `The master could not reach ${who} to pass the upload on.`, hint: "Check the node on the Nodes page, then deploy again." } });
    }
    return new Response(res.body, { status: res.status, headers: { "content-type": res.headers.get("content-type") ?? "application/json" } });
  }

  private sweep() {
    const t = Date.now();
    for (const [id, v] of this.targets) if (v.until < t) this.targets.delete(id);
  }
}
