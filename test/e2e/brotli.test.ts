// Brotli: the agent makes `.br` siblings at deploy time (beside the `.gz` ones) and its nginx serves
// them through Debian's brotli_static module, to clients that accept br only, with the file's own
// type, Vary and every rule of the site (Basic-Auth, _headers) applying as to the plain file. A
// node without the module says so at start and serves gzip.
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { hashPassword } from "../../src/shared/htpasswd";
import { addGateway, type Cluster, type Node, site, useCluster } from "../helpers/cluster";

const cl = useCluster();
let c: Cluster;
beforeAll(() => {
  c = cl();
});

/** A JS asset large and repetitive enough to be worth compressing either way. */
const JS = Array.from({ length: 400 }, (_, i) => `export function handler${i}(event) { return { id: ${i}, type: event.type, ok: true }; }\n`).join("");
const raw = (host: string, path: string, enc: string | null, node?: Node, headers: Record<string, string> = {}) =>
  c.get(host, path, node, { headers: { ...(enc === null ? {} : { "accept-encoding": enc }), ...headers }, decompress: false } as RequestInit);

/** untilBrotli waits for the `.br` sibling, made in the background after the deploy went live. */
async function untilBrotli(host: string, path: string, node?: Node, headers: Record<string, string> = {}): Promise<Response> {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await raw(host, path, "gzip, deflate, br", node, headers);
    if (r.headers.get("content-encoding") === "br" || Date.now() > end) return r;
    await Bun.sleep(200);
  }
}

const deploy = async (name: string, files: Record<string, string>) => {
  const r = await c.sprout(["deploy", site(files), "--site", name, "--prod", "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}):\n${r.stderr}\n${r.stdout}\n${c.logs()}`);
  return JSON.parse(r.stdout) as { deployment_id: string };
};

describe("brotli", () => {
  test("the agent says at start that nginx serves brotli, and its nginx loads the module", () => {
    expect(c.nodes[0]!.p.output()).toContain("brotli on: nginx serves .br siblings");
    const conf = readFileSync(join(c.nodes[0]!.data, "nginx", "nginx.conf"), "utf8");
    expect(conf).toMatch(/^load_module \/usr\/lib\/nginx\/modules\/ngx_http_brotli_static_module\.so;$/m);
    expect(conf).toContain("brotli_static on;");
  });

  test("a JS asset is sent as br to clients that accept it, with its own type and Vary, and decompresses to the exact file", async () => {
    await deploy("brjs", { "index.html": "<h1>home</h1>", "app.js": JS });
    const r = await untilBrotli(`brjs.${c.domain}`, "/app.js");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-encoding")).toBe("br");
    expect(r.headers.get("vary")).toContain("Accept-Encoding");
    expect(r.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("public, max-age=0, must-revalidate");
    const body = new Uint8Array(await r.arrayBuffer());
    expect(brotliDecompressSync(body).toString()).toBe(JS);
    // Smaller than the gzip form of the same file.
    const gz = new Uint8Array(await (await raw(`brjs.${c.domain}`, "/app.js", "gzip")).arrayBuffer());
    expect(body.length).toBeLessThan(gz.length);
  });

  test("clients without br in Accept-Encoding get gzip, and clients asking for neither get the file as it is", async () => {
    const gz = await raw(`brjs.${c.domain}`, "/app.js", "gzip, deflate");
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gz.headers.get("vary")).toContain("Accept-Encoding");
    expect(gunzipSync(new Uint8Array(await gz.arrayBuffer())).toString()).toBe(JS);
    const plain = await raw(`brjs.${c.domain}`, "/app.js", "identity");
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(JS);
    const none = await raw(`brjs.${c.domain}`, "/app.js", null);
    expect(none.headers.get("content-encoding")).toBeNull();
    expect(await none.text()).toBe(JS);
  });

  test("through a gateway, clients that accept br get it, and others gzip", async () => {
    const gw = await addGateway(c, "gwbr");
    const via = (enc: string) => fetch(`${gw.httpUrl}/app.js`, { headers: { host: `brjs.${c.domain}`, "accept-encoding": enc }, decompress: false } as RequestInit);
    // The gateway learns its routes from the master every 2 s.
    const end = Date.now() + 30_000;
    while ((await via("br")).status !== 200 && Date.now() < end) await Bun.sleep(200);
    const br = await via("br, gzip");
    expect(br.status).toBe(200);
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("vary")).toContain("Accept-Encoding");
    expect(brotliDecompressSync(new Uint8Array(await br.arrayBuffer())).toString()).toBe(JS);
    const gz = await via("gzip");
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(new Uint8Array(await gz.arrayBuffer())).toString()).toBe(JS);
  });

  test("pages are sent as br too: a clean URL and a folder's index", async () => {
    const html = `<!doctype html><title>x</title>${"<p>a paragraph of text that repeats</p>\n".repeat(60)}`;
    await deploy("brpages", { "index.html": html, "about.html": html, "docs/index.html": html });
    for (const path of ["/", "/about", "/docs/"]) {
      const r = await untilBrotli(`brpages.${c.domain}`, path);
      expect(r.headers.get("content-encoding")).toBe("br");
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(brotliDecompressSync(new Uint8Array(await r.arrayBuffer())).toString()).toBe(html);
    }
  });

  test("Basic-Auth and _headers apply to the brotli form: /secret.js and /secret.js.br need the password", async () => {
    const headers = `/secret.js\n  Basic-Auth: alice:${hashPassword("open sesame")}\n  X-Guarded: yes\n`;
    await deploy("brauth", { "index.html": "<h1>public</h1>", "secret.js": JS, _headers: headers });
    const host = `brauth.${c.domain}`;
    const auth = { authorization: `Basic ${btoa("alice:open sesame")}` };
    const r = await untilBrotli(host, "/secret.js", undefined, auth);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-encoding")).toBe("br");
    expect(r.headers.get("x-guarded")).toBe("yes");
    expect(brotliDecompressSync(new Uint8Array(await r.arrayBuffer())).toString()).toBe(JS);
    // Without the password: neither the br form negotiated nor the sibling asked for by name.
    for (const path of ["/secret.js", "/secret.js.br", "/secret.js.gz"]) {
      const denied = await raw(host, path, "br, gzip");
      expect(denied.status).toBe(401);
      expect(new Uint8Array(await denied.arrayBuffer()).length).toBeLessThan(1000);
      expect(await (await raw(host, path, "br", undefined, { authorization: `Basic ${btoa("alice:wrong")}` })).status).toBe(401);
    }
  });

  test("a node without the brotli module says so at start and serves gzip only", async () => {
    const node = await c.addAgent("nobrotli", ["--brotli-module", join(c.home, "no-such-module.so")]);
    expect(node.p.output()).toContain("brotli off: nginx's brotli_static module is not at");
    expect(node.p.output()).toContain("libnginx-mod-http-brotli-static");
    expect(readFileSync(join(node.data, "nginx", "nginx.conf"), "utf8")).not.toContain("brotli_static");
    // Each site lives on two nodes: this one holds the next deploy too.
    await deploy("brgz", { "index.html": "<h1>home</h1>", "app.js": JS });
    const here = await raw(`brgz.${c.domain}`, "/app.js", "br, gzip", node);
    expect(here.status).toBe(200);
    expect(here.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(new Uint8Array(await here.arrayBuffer())).toString()).toBe(JS);
    // And makes no brotli files it could not serve.
    await Bun.sleep(1000);
    const files = [...new Bun.Glob("**/*.br").scanSync({ cwd: join(node.data, "blobs"), dot: true })];
    expect(files).toEqual([]);
  });

  test("a file that is not a module nginx can load is not used: the node says why and serves gzip", async () => {
    const bogus = join(c.home, "not-a-module.so");
    writeFileSync(bogus, "this is not a shared object");
    const node = await c.addAgent("badbrotli", ["--brotli-module", bogus]);
    expect(node.p.output()).toContain(`brotli off: nginx cannot load the brotli_static module at ${bogus}`);
    expect(readFileSync(join(node.data, "nginx", "nginx.conf"), "utf8")).not.toContain("brotli_static");
    expect((await c.get(`brjs.${c.domain}`, "/", node)).status).toBeLessThan(500);
  });

  test("--brotli-module refuses a path that is not a plain absolute path", async () => {
    const r = await c.sprout(["agent", "--master", c.master, "--token", "x", "--brotli-module", "/tmp/x.so; evil"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--brotli-module must be an absolute path");
  });
});
