import { existsSync } from "node:fs";
import type { Command } from "../../shared/command";
import type { DeploymentInfo } from "../../protocol/deployment";
import type { SiteInfo } from "../../protocol/site";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, out, siteFlag } from "../action";

/**
 * webUrl answers the URL the master gave, normalized, when it is one a browser should open (http or
 * https), else null. The OS opener acts on whatever it is handed: a `file:` URL or path runs or shows
 * a local file, other schemes start their own handlers (smb: sends the user's credentials to a
 * host), and text starting with `-` would be read as the opener's option. A master is trusted to
 * name pages, not programs.
 */
export function webUrl(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * openInBrowser opens a URL when there is a screen to show it on (macOS, or a Linux/BSD session with
 * DISPLAY or WAYLAND_DISPLAY and xdg-open); on a server or in CI it does nothing. Answers whether it
 * tried. Only http(s) URLs are opened (see webUrl).
 */
function openInBrowser(given: string): boolean {
  const url = webUrl(given);
  const cmd =
    process.platform === "darwin" ? "open" : (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) ? Bun.which("xdg-open") : null;
  if (!url || !cmd || (cmd !== "open" && !existsSync(cmd))) return false;
  try {
    Bun.spawn([cmd, url], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).unref();
    return true;
  } catch {
    return false;
  }
}

export const openCommand: Command = {
  name: "open",
  group: "sites",
  summary: "Print a site's URL (or a deployment's preview URL) and open it in a browser",
  usage: "open [--site NAME] [--preview DEPLOYMENT_ID] [--print] [--json]",
  options: {
    ...SITE_OPT,
    preview: { type: "string", value: "DEPLOYMENT_ID", description: "The preview URL of this deployment instead of production" },
    print: { type: "boolean", description: "Only print the URL" },
    ...JSON_OPT,
    ...API_OPTS,
  },
  examples: ["sprout open", "sprout open --preview 0a1b2c3d4e5f6g", "sprout open --site blog --print"],
  run: action(async (v) => {
    const api = Api.fromEnv(v);
    const url =
      typeof v.preview === "string"
        ? (await api.call<DeploymentInfo>("GET", `/api/deployment/${encodeURIComponent(v.preview)}`)).preview_url
        : (await api.call<SiteInfo>("GET", `/api/site/${encodeURIComponent(siteFlag(v))}`)).url;
    const opened = !v.print && !v.json && openInBrowser(url);
    out(v, { url, opened }, () => `${url}\n`);
  }),
};
