import { Elysia } from "elysia";
import { existsSync } from "node:fs";
import installScript from "../../../install.sh" with { type: "text" };
import { notFound } from "../../shared/errors";
import { clientOf } from "../client";
import type { Services } from "../context";

/** ownBinary answers the path of the running compiled `sprout`, or null when run from source. */
function ownBinary(): string | null {
  const compiled = Bun.main.startsWith("/$bunfs") || Bun.main.includes("~BUN");
  return compiled && existsSync(process.execPath) ? process.execPath : null;
}

const ARCH = process.arch === "arm64" ? "arm64" : process.arch === "x64" ? "x64" : process.arch;
let digest: string | null = null;

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
      const origin = `${c.https ? "https" : "http"}://${new URL(request.url).host}`;
      return new Response(installScript.replace("__SPROUT_MASTER__", origin), { headers: { "content-type": "text/x-shellscript; charset=utf-8" } });
    })
    .get("/download/:file", async ({ params }) => {
      const bin = ownBinary();
      const name = `sprout-linux-${ARCH}`;
      if (!bin || (params.file !== name && params.file !== `${name}.sha256`))
        throw notFound(`Download ${params.file}`, `This master serves ${bin ? name : "no binary (it runs from source)"}.`);
      digest ??= new Bun.CryptoHasher("sha256").update(await Bun.file(bin).bytes()).digest("hex");
      if (params.file.endsWith(".sha256")) return new Response(`${digest}  ${name}\n`, { headers: { "content-type": "text/plain" } });
      return new Response(Bun.file(bin), { headers: { "content-type": "application/octet-stream", "x-sha256": digest } });
    });
