import ejs from "ejs";
import layout from "../../views/layouts/main.ejs" with { type: "text" };
import login from "../../views/pages/auth/login.ejs" with { type: "text" };
import errorPage from "../../views/pages/error.ejs" with { type: "text" };
import sitesIndex from "../../views/pages/sites/index.ejs" with { type: "text" };
import sitesShow from "../../views/pages/sites/show.ejs" with { type: "text" };
import sitesList from "../../views/partials/sites/_list.ejs" with { type: "text" };
import siteCreate from "../../views/partials/sites/_create.ejs" with { type: "text" };
import siteLive from "../../views/partials/sites/_live.ejs" with { type: "text" };
import siteSettings from "../../views/partials/sites/_settings.ejs" with { type: "text" };
import siteDelete from "../../views/partials/sites/_delete.ejs" with { type: "text" };
import siteDeploy from "../../views/partials/sites/_deploy.ejs" with { type: "text" };
import siteDomains from "../../views/partials/sites/_domains.ejs" with { type: "text" };
import siteTraffic from "../../views/partials/sites/_traffic.ejs" with { type: "text" };
import deploymentShow from "../../views/pages/deployments/show.ejs" with { type: "text" };
import deploymentLog from "../../views/partials/deployments/_log.ejs" with { type: "text" };
import accountIndex from "../../views/pages/account/index.ejs" with { type: "text" };
import accountPassword from "../../views/partials/account/_password.ejs" with { type: "text" };
import accountSessions from "../../views/partials/account/_sessions.ejs" with { type: "text" };
import tokensIndex from "../../views/pages/tokens/index.ejs" with { type: "text" };
import tokensPanel from "../../views/partials/tokens/_tokens.ejs" with { type: "text" };
import usersIndex from "../../views/pages/users/index.ejs" with { type: "text" };
import usersPanel from "../../views/partials/users/_users.ejs" with { type: "text" };
import userShow from "../../views/pages/users/show.ejs" with { type: "text" };
import userQuota from "../../views/partials/users/_quota.ejs" with { type: "text" };
import userAccess from "../../views/partials/users/_access.ejs" with { type: "text" };
import nodesIndex from "../../views/pages/nodes/index.ejs" with { type: "text" };
import nodesList from "../../views/partials/nodes/_list.ejs" with { type: "text" };
import nodesAdd from "../../views/partials/nodes/_add.ejs" with { type: "text" };
import nodesNotice from "../../views/partials/nodes/_notice.ejs" with { type: "text" };
import nodesToken from "../../views/partials/nodes/_token.ejs" with { type: "text" };
import auditIndex from "../../views/pages/audit/index.ejs" with { type: "text" };
import auditList from "../../views/partials/audit/_list.ejs" with { type: "text" };
import settingsIndex from "../../views/pages/settings/index.ejs" with { type: "text" };
import settingsTestAlert from "../../views/partials/settings/_test-alert.ejs" with { type: "text" };
import logo from "../../public/logo.svg" with { type: "text" };
import type { UserInfo } from "../protocol/user";

// Templates are embedded in the binary and compiled once; nothing is read from disk at run time.
const TEMPLATES = {
  layout, login, errorPage,
  sitesIndex, sitesShow, sitesList, siteCreate, siteLive, siteSettings, siteDelete, siteDeploy, siteDomains, siteTraffic,
  deploymentShow, deploymentLog,
  accountIndex, accountPassword, accountSessions, tokensIndex, tokensPanel, usersIndex, usersPanel, userShow, userQuota, userAccess,
  nodesIndex, nodesList, nodesAdd, nodesNotice, nodesToken,
  auditIndex, auditList, settingsIndex, settingsTestAlert,
};
export type TemplateName = Exclude<keyof typeof TEMPLATES, "layout">;
const compiled = new Map<string, ejs.TemplateFunction>();

function template(name: keyof typeof TEMPLATES): ejs.TemplateFunction {
  let f = compiled.get(name);
  if (!f) {
    f = ejs.compile(TEMPLATES[name]);
    compiled.set(name, f);
  }
  return f;
}

/** Notice is a one-line outcome shown at the top of a fragment (role=status, or role=alert for errors). */
export type Notice = { text: string; error?: boolean } | null;

/** helpers every template gets: `partial(name, data)` includes a fragment; `when` and `bytes` format. */
const helpers = {
  partial: (name: TemplateName, data: Record<string, unknown>) => fragment(name, data),
  when: (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : ""),
  bytes: (n: number) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1073741824).toFixed(1)} GB`),
  logo,
};

/** fragment renders one template alone (what an htmx request or a live stream gets). */
export function fragment(name: TemplateName, data: Record<string, unknown>): string {
  return template(name)({ ...helpers, notice: null, ...data });
}

/** page renders a template inside the layout; `path` marks the current section in the navigation. */
export function page(name: TemplateName, title: string, user: UserInfo | null, data: Record<string, unknown>, path = ""): string {
  return template("layout")({ ...helpers, title, user, path, body: fragment(name, { user, ...data }) });
}

/** html answers an HTML document or fragment. */
export function html(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", ...headers } });
}
