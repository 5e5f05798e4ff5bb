import { Elysia } from "elysia";
import { fragment } from "../../../ui/render";
import { deploymentWake, liveFragment } from "../../../ui/live";
import { UploadProxy } from "../../../ui/upload-proxy";
import { noIdleTimer } from "../../../shared/listen";
import type { Services } from "../../context";
import { uiKit, view } from "./common";

const finished = (status: string) => status === "ready" || status === "failed";

/**
 * uiDeployments: a deployment's page with its log, streamed live until it is ready or failed, and
 * the browser deploy's two upload calls passed through to the node (see ui/upload-proxy.ts).
 */
export const uiDeployments = (s: Services) => {
  const { signedIn } = uiKit(s);
  const proxy = new UploadProxy(s);
  const fileRoute = signedIn((req, sess, p) => proxy.file(sess.user.id, p.id!, req));
  return new Elysia({ name: "routes/ui/deployments" })
    .get("/ui/deployments/:id", signedIn((req, sess, p) => view(req, sess, "deploymentShow", `Deployment ${p.id}`, { d: s.deployments.get(sess.user.id, p.id!) }, "deploymentLog")))
    .get("/ui/events/deployments/:id", signedIn((req, sess, p) => {
      const id = p.id!;
      s.deployments.get(sess.user.id, id, Number.MAX_SAFE_INTEGER);
      let done = false;
      return liveFragment(req.signal, () => {
        const d = s.deployments.get(sess.user.id, id);
        // Production deploys are done once live (or failed); a preview once ready.
        done = d.status === "failed" || (finished(d.status) && (!d.production || d.is_production || d.events?.some((e) => e.level === "error") === true));
        return fragment("deploymentLog", { d });
      }, { wake: deploymentWake(s, (x) => x === id), final: () => done, alive: sess.alive });
    }))
    .post("/ui/deployments/:id/upload/init", signedIn((req, sess, p) => proxy.init(sess.user.id, p.id!, req)), { parse: "none" })
    // Up to 101 MB from a browser: Bun's idle timer, which does not restart as bytes arrive, would cut
    // it after 2-4 minutes on a slow link. The node cuts a body whose bytes stop coming (its
    // --idle-timeout), which ends this pass-through too.
    .post("/ui/deployments/:id/upload/file", (ctx) => {
      noIdleTimer(ctx.request, ctx.server);
      return fileRoute(ctx);
    }, { parse: "none" });
};
