import { Elysia } from "elysia";
import htmxJs from "../../../../node_modules/htmx.org/dist/htmx.min.js" with { type: "text" };
import sseJs from "../../../../node_modules/htmx.org/dist/ext/hx-sse.min.js" with { type: "text" };
import appCss from "../../../../public/app.css" with { type: "text" };
import deployJs from "../../../../public/deploy.client.js" with { type: "text" };
import hashWorkerJs from "../../../../public/hash-worker.client.js" with { type: "text" };
import tarJs from "../../../../public/tar.client.js" with { type: "text" };
import logoSvg from "../../../../public/logo.svg" with { type: "text" };

const JS = "text/javascript; charset=utf-8";
/** ASSETS are embedded at build time: the binary serves them without reading anything from disk. */
const ASSETS: Record<string, [string, string]> = {
  "htmx.min.js": [htmxJs, JS],
  "hx-sse.min.js": [sseJs, JS],
  "app.css": [appCss, "text/css; charset=utf-8"],
  "deploy.js": [deployJs, JS],
  "hash-worker.js": [hashWorkerJs, JS],
  "tar.js": [tarJs, JS],
  "logo.svg": [logoSvg, "image/svg+xml"],
};

/** uiStatic serves the admin UI's scripts, stylesheet and logo. */
export const uiStatic = () =>
  new Elysia({ name: "routes/ui/static" }).get("/ui/static/:file", ({ params }) => {
    // Own keys only: "constructor" or "__proto__" are not files.
    const asset = Object.hasOwn(ASSETS, params.file) ? ASSETS[params.file] : undefined;
    if (!asset) return new Response("Not found", { status: 404, headers: { "content-type": "text/plain" } });
    return new Response(asset[0], { headers: { "content-type": asset[1], "cache-control": "public, max-age=300" } });
  });
