import ejs from "ejs";
import layout from "../../views/layouts/main.ejs" with { type: "text" };
import login from "../../views/pages/auth/login.ejs" with { type: "text" };
import sitesIndex from "../../views/pages/sites/index.ejs" with { type: "text" };
import sitesShow from "../../views/pages/sites/show.ejs" with { type: "text" };
import deploymentShow from "../../views/pages/deployments/show.ejs" with { type: "text" };
import nodesIndex from "../../views/pages/nodes/index.ejs" with { type: "text" };
import deploymentsList from "../../views/partials/deployments/_list.ejs" with { type: "text" };
import deploymentLog from "../../views/partials/deployments/_log.ejs" with { type: "text" };
import nodesList from "../../views/partials/nodes/_list.ejs" with { type: "text" };
import errorPage from "../../views/pages/error.ejs" with { type: "text" };

// Templates are embedded in the binary and compiled once; nothing is read from disk at run time.
const TEMPLATES = { layout, login, sitesIndex, sitesShow, deploymentShow, nodesIndex, deploymentsList, deploymentLog, nodesList, errorPage };
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

/** fragment renders one template alone (what an htmx request gets). */
export function fragment(name: TemplateName, data: Record<string, unknown>): string {
  return template(name)(data);
}

/** page renders a template inside the layout. */
export function page(name: TemplateName, title: string, user: { email: string; is_admin: boolean } | null, data: Record<string, unknown>): string {
  return template("layout")({ title, user, body: fragment(name, data) });
}

/** html answers an HTML document or fragment. */
export function html(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", ...headers } });
}
