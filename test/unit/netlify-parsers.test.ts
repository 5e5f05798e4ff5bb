// Netlify's own parsers (@netlify/redirect-parser, @netlify/headers-parser, as the Netlify CLI and
// build use them) against Sprout's, over a corpus of rule lines from Netlify's documentation and
// edge cases. Sprout must accept exactly what Netlify accepts, except the lines listed in
// DIFFERENCES with the reason (the README's "Differences from Netlify" says the same). A line that
// starts or stops differing fails this test until the list says why.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllRedirects } from "@netlify/redirect-parser";
import { parseAllHeaders } from "@netlify/headers-parser";
import { parseHeaders, parseRedirects } from "../../src/agent/nginx/rules";

const dir = mkdtempSync(join(tmpdir(), "sprout-netlify-parsers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** REDIRECTS: one `_redirects` line each. */
const REDIRECTS = [
  // From Netlify's documentation
  "/home              /",
  "/blog/my-post.php  /blog/my-post",
  "/news              /blog",
  "/cuties            https://www.petsofnetlify.com",
  "/old-page /new-page 301",
  "/my-redirect / 302",
  "/pass-through /index.html 200",
  "/ecommerce /store-closed 404",
  "/news/* /blog/:splat",
  "/news/:month/:date/:year/:slug /blog/:year/:month/:date/:slug",
  "/store id=:id /blog/:id 301",
  "/articles id=:id tag=:tag /posts/:tag/:id 301",
  "/store id=:id /product/:id 301!",
  "/api/* https://api.example.com/:splat 200",
  "/search  https://api.mysearch.com  200!",
  "/*    /index.html   200",
  "/app/*  /app/index.html  200",
  "/  /anz  302  Country=au,nz",
  "/israel/*  /israel/he/:splat  302  Country=il Language=he",
  "/  /fr  302  Language=fr",
  "/admin/*  200!  Role=admin",
  "/admin/*  /login  401!",
  "/members/*  /:splat  200!  Role=admin,editor",
  "/authors/c%C3%A9line /authors/about-celine 301",
  "/en/* /en/404.html 404",
  "/pt/* /pt/404.html 404",
  "/something  /something-else  301!",
  "https://old.example.com/* https://new.example.com/:splat 301!",
  "/blog/* https://blog.example.com/:splat 302",
  "/app/*  200",
  // Statuses and forcing
  "/old  /new  308",
  "/temp /new 307",
  "/see-other /new 303",
  "/gone /410.html 410",
  "/legal /451.html 451",
  "/forbidden /denied 403",
  "/a /b 200!",
  "/a /b 404!",
  "/maintenance /maintenance.html 503",
  "/teapot /b 418",
  "/a /b 30",
  "/a /b 700",
  "/a /b 301!!",
  "/a /b foo",
  // Placeholders, splats and query parameters
  "/blog/:year/:month/:day/:title /articles/:title 301",
  "/a/:id /b/:id 301",
  "/a/:id /b/:other 301",
  "/a/*/b /c",
  "/store id= /z 301",
  "/search q=:query /results?q=:query 302",
  "/a?x=1 /b",
  // Conditions
  "/a /b 301 Language=en,de",
  "/a /b 302 language=en",
  "/a /b 302 Language=xx_YY",
  "/a /b 301 Cookie=session",
  "/a /b 302 Country=us",
  "/a /b 200 Sign=SECRET",
  "/a /b 200 X=y",
  "/a /b 301 Role=admin",
  "/a /b 301 extra",
  // Targets
  "/a   https://example.com:8443/x   302",
  "/a https://user:pw@example.com/ 302",
  "/a https://user:pw@example.com/ 200",
  "/shop/* https://:splat.example.com 301",
  "/x /../etc/passwd 200",
  "/x //evil.com 301",
  "/api/* http://localhost:3000/:splat 200",
  "/api/* http://10.0.0.1/:splat 200",
  "/api/* http://127.0.0.1:8080/:splat 200",
  "/ext https://example.com/x 404",
  "/a /b;c 301",
  "/a /b$c 301",
  "/a /b{c} 301",
  '/a "/b"',
  "/a mailto:x@example.com",
  "/a ftp://example.com/",
  "/a HTTPS://EXAMPLE.COM",
  // Paths and syntax
  "/a",
  "a /b",
  "/a b",
  "/a /b 301 # a comment",
  "/a#frag /b",
  "/ü /u 301",
  "/.netlify/functions/x /y 301",
  "/path/with spaces /x",
  "http://example.com/* /x 301",
];

/** HEADERS: one `_headers` file each. */
const HEADERS = [
  "/*\n  X-Frame-Options: DENY\n  X-XSS-Protection: 1; mode=block",
  "/templates/index.html\n  X-Frame-Options: DENY",
  "/*\n  Basic-Auth: someuser:somepassword anotheruser:anotherpassword",
  "/*\n  Link: </style.css>; rel=preload; as=style",
  "/*\n  Cache-Control: public\n  Cache-Control: max-age=3600",
  "/assets/*\n  Cache-Control: public, max-age=31536000, immutable",
  "/:placeholder/*\n  X-Test: a",
  "/*.css\n  X-A: b",
  "/*\nX-Unindented: yes",
  "/*\n  X-Empty:",
  "/*\n  : novalue",
  "X-Before-Path: yes",
  "/*\n  Content-Security-Policy: default-src 'self'; script-src 'self' https://x.example.com",
  "/*\n  Set-Cookie: a=b; Domain=example.com",
  "/*\n  Transfer-Encoding: chunked",
  '/*\n  X-Quote: "quoted"',
  "/*\n  X-Dollar: $abc",
  "/*\n  Access-Control-Allow-Origin: *",
  "/*\n  this line has no colon",
  "/a b\n  X-A: c",
  "/\n  X-Root: yes",
  "/a/:b/c\n  X-C: d",
  "/*\n  Permissions-Policy: geolocation=(), camera=()",
  "/*\n  Strict-Transport-Security: max-age=63072000; includeSubDomains; preload",
  "/*\n  X-A: one\n/*\n  X-A: two",
  "# only a comment",
];

/**
 * DIFFERENCES: lines Netlify and Sprout disagree on, and why. Sprout refuses each of these (Netlify
 * accepts them) unless the reason says otherwise.
 */
const DIFFERENCES: Record<string, string> = {
  "https://old.example.com/* https://new.example.com/:splat 301!": "domain-level rules: a Sprout site has one host name",
  "http://example.com/* /x 301": "domain-level rules: a Sprout site has one host name",
  "/  /anz  302  Country=au,nz": "Country= needs GeoIP, which nodes do not have: the rule is skipped with a warning",
  "/israel/*  /israel/he/:splat  302  Country=il Language=he": "Country= needs GeoIP: skipped with a warning",
  "/a /b 302 Country=us": "Country= needs GeoIP: skipped with a warning",
  "/admin/*  200!  Role=admin": "Role= needs Netlify Identity: the deploy fails, as skipping it would leave the content public",
  "/members/*  /:splat  200!  Role=admin,editor": "Role= needs Netlify Identity: the deploy fails",
  "/a /b 301 Role=admin": "Role= needs Netlify Identity: the deploy fails",
  "/a /b 200 Sign=SECRET": "signed proxy requests (Sign=) are not supported",
  "/a /b 200 X=y": "Netlify ignores unknown conditions; Sprout says the rule would not do what it reads as",
  "/a /b 301 extra": "Netlify ignores a stray word after the status; Sprout reports it",
  "/a /b 302 Language=xx_YY": "a language must be a tag like en or pt-BR",
  "/maintenance /maintenance.html 503": "statuses: 200, 301, 302, 303, 307, 308, 401, 403, 404, 410 and 451 only",
  "/teapot /b 418": "statuses: 200, 301-308, 401, 403, 404, 410 and 451 only",
  "/a /b 30": "statuses: three-digit codes only",
  "/a /b 700": "statuses: three-digit HTTP codes only",
  "/a /b 301!!": "one ! only",
  "/a/:id /b/:other 301": "a target placeholder the path does not define (Netlify leaves it as literal text)",
  "/a/*/b /c": "a * splat must be the last segment (Netlify treats it as literal)",
  "/a https://user:pw@example.com/ 200": "proxy targets may not carry credentials",
  "/shop/* https://:splat.example.com 301": "a visitor's value may not choose the host of a redirect",
  "/x /../etc/passwd 200": "targets may not leave the deployment (.. segments)",
  "/x //evil.com 301": "a target starting with // names another host",
  "/api/* http://localhost:3000/:splat 200": "proxies to localhost or private addresses need the agent's --allow-private-proxy",
  "/api/* http://10.0.0.1/:splat 200": "proxies to private addresses need --allow-private-proxy",
  "/api/* http://127.0.0.1:8080/:splat 200": "proxies to loopback addresses need --allow-private-proxy",
  "/ext https://example.com/x 404": "an address on another site can be redirected or proxied to, not answered with a 4xx",
  "/a /b;c 301": "; { } $ \" ' ` and \\ are refused in paths and targets (they would reach nginx's configuration)",
  "/a /b$c 301": "; { } $ and quotes are refused in paths and targets",
  "/a /b{c} 301": "; { } $ and quotes are refused in paths and targets",
  "a /b": "a path must start with /",
  "/path/with spaces /x": "Netlify takes a stray word before the target as a query condition without a value; Sprout reports it",
  "/a https://user:pw@example.com/ 302": "user names and passwords in target URLs are refused",
  // _headers
  "/*.css\n  X-A: b": "a * in _headers paths must be a whole segment (/assets/*), not part of one (/*.css)",
  "/*\n  Set-Cookie: a=b; Domain=example.com": "Set-Cookie with a Domain would reach other sites on the platform's domain",
  "/*\n  Transfer-Encoding: chunked": "framing and connection headers are set by the server",
  '/*\n  X-Quote: "quoted"': '" \\ and $ are refused in header values (they would reach nginx\'s configuration)',
  "/*\n  X-Dollar: $abc": '" \\ and $ are refused in header values',
  "/*\n  this line has no colon": "Netlify ignores a header line without a colon; Sprout reports it",
  "/a b\n  X-A: c": "white space in a path",
};

async function netlifyAcceptsRedirect(line: string, i: number): Promise<boolean> {
  const file = join(dir, `r${i}`);
  writeFileSync(file, `${line}\n`);
  const r = await parseAllRedirects({ redirectsFiles: [file], configRedirects: [], minimal: false });
  return r.errors.length === 0 && r.redirects.length === 1;
}

async function netlifyAcceptsHeaders(text: string, i: number): Promise<boolean> {
  const file = join(dir, `h${i}`);
  writeFileSync(file, `${text}\n`);
  const r = await parseAllHeaders({ headersFiles: [file], configHeaders: [], minimal: false });
  return r.errors.length === 0;
}

const sproutAcceptsRedirect = (line: string) => {
  const r = parseRedirects(line);
  return r.warnings.length === 0 && r.rules.length === 1;
};
const sproutAcceptsHeaders = (text: string) => parseHeaders(text).warnings.length === 0;

describe("Sprout reads _redirects and _headers as Netlify's own parsers do", () => {
  test("the corpus is large enough to mean something", () => {
    expect(REDIRECTS.length + HEADERS.length).toBeGreaterThanOrEqual(100);
  });

  test("every _redirects line is accepted by both or refused by both, except the documented differences", async () => {
    const differ: string[] = [];
    for (const [i, line] of REDIRECTS.entries()) if ((await netlifyAcceptsRedirect(line, i)) !== sproutAcceptsRedirect(line)) differ.push(line);
    expect(differ.sort()).toEqual(REDIRECTS.filter((l) => DIFFERENCES[l]).sort());
  });

  test("every _headers file is accepted by both or refused by both, except the documented differences", async () => {
    const differ: string[] = [];
    for (const [i, text] of HEADERS.entries()) if ((await netlifyAcceptsHeaders(text, i)) !== sproutAcceptsHeaders(text)) differ.push(text);
    expect(differ.sort()).toEqual(HEADERS.filter((t) => DIFFERENCES[t]).sort());
  });
});
