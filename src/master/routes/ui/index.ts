import { Elysia } from "elysia";
import { errorResponse } from "../../../shared/http-errors";
import { session } from "../../../ui/session";
import type { Services } from "../../context";
import { uiAccount } from "./account";
import { uiAdmin } from "./admin";
import { uiAuth } from "./auth";
import { errorPage, uiKit } from "./common";
import { uiDeployments } from "./deployments";
import { uiDomains } from "./domains";
import { uiOps } from "./ops";
import { uiSites } from "./sites";
import { uiStatic } from "./static";

/**
 * uiRoutes is the server-rendered admin UI (htmx, ejs): sites, deploying a folder from the browser,
 * live deployment logs and lists (Server-Sent Events), custom domains and traffic, account and API
 * tokens, and the admin's users, nodes, audit log and settings. Each file here is one area; they call the same services as the API and hold no rules.
 * Any other page answers an HTML 404 page (the API keeps its JSON 404).
 */
export const uiRoutes = (s: Services) => {
  const { client } = uiKit(s);
  return new Elysia({ name: "routes/ui" })
    .use(uiStatic())
    .use(uiAuth(s))
    .use(uiSites(s))
    .use(uiDomains(s))
    .use(uiDeployments(s))
    .use(uiAccount(s))
    .use(uiAdmin(s))
    .use(uiOps(s))
    .get("/*", async ({ request, server }) => {
      const path = new URL(request.url).pathname;
      if (path.startsWith("/api/")) return errorResponse("NOT_FOUND", null, path);
      const sess = await session(s, request, client(request, server).https);
      return errorPage(sess?.user ?? null, { status: 404, message: `There is no page at ${path}.`, hint: "Check the address, or start from your sites." });
    });
};
