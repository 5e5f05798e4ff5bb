import { Elysia } from "elysia";
import installScript from "../../../install.sh" with { type: "text" };
import { notFound } from "../../shared/errors";
import { clientOf } from "../client";
import type { Services } from "../context";
import { binaryName } from "../../shared/self-upgrade";
import { ownBinary } from "../services/upgrades";

/** A host name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/**
 * installRoutes serve a node's one-line install from the master itself (no other download):
 * `GET /install.sh` (the installer, with this master's URL as its default) and the binary the
 * master runs as `GET /download/sprout-linux-<arch>` with its SHA-256 beside it. Public: the
 * binary is not a secret; the agent token comes from the admin, on the command line.
 */
export const installRoutes = (s: Services) =>
  new Elysia({ name: "routes/install" })
    .get("/install.sh", ({ request, server }) => {
      const c = clientOf(request, server?.requestIP(request)?.address, s.config.trustedProxies);
      // The script is run by a root shell, which expands `$(...)` and backquotes in its default
      // master: only a plain host name or address (and port) from the request's Host is written
      // there. Any other Host leaves the placeholder, and the script asks for --master.
      const host = request.headers.get("host") ?? "";
      const origin = PLAIN_HOST.test(host) ? `${c.https ? "https" : "http"}://${host.toLowerCase()}` : "__SPROUT_MASTER__";
      return new Response(installScript.replace("__SPROUT_MASTER__", origin), { headers: { "content-type": "text/x-shellscript; charset=utf-8" } });
    })
    .get("/download/:file", async ({ params }) => {
      const bin = await ownBinary();
      const name = binaryName();
      if (!bin || (params.file !== name && params.file !== `${name}.sha256`))
        throw notFound(`Download ${params.file}`, `This master serves ${bin ? name : "no binary (it runs from source)"}.`);
      if (params.file.endsWith(".sha256")) return new Response(`${bin.sha256}  ${name}\n`, { headers: { "content-type": "text/plain" } });
      // Bun's server closes a file response that outlasts a few idle timeouts (--idle-timeout), even
      // one that progresses, and server.timeout() does not change that for file bodies: on a slow link
      // (~0.5 MB/s at the default 120 s) the download is cut, and its clients (install.sh, the
      // upgrades) ask again for the rest with a Range request, which Bun answers for a file.
      return new Response(Bun.file(bin.path), { headers: { "content-type": "application/octet-stream", "x-sha256": bin.sha256 } });
    });
