// Netlify's own parsers (@netlify/redirect-parser, @netlify/headers-parser, as the Netlify CLI and
// build use them) against Sprout's, over a corpus of rule lines from Netlify's documentation and
// edge cases, and over netlify.toml entries (the same parsers read its [[redirects]] and [[headers]]
// when given the file). Sprout must accept exactly what Netlify accepts, except the lines listed in
// DIFFERENCES with the reason (the README's "Differences from Netlify" says the same). A line that
// starts or stops differing fails this test until the list says why.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllRedirects } from "@netlify/redirect-parser";
import { parseAllHeaders } from "@netlify/headers-parser";
import { stringify } from "smol-toml";
import { parseHeaders, parseRedirects, readRules } from "../../src/agent/nginx/rules";

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
  // As a node with a GeoIP country database (the default where Debian's geoip-database is installed).
  const r = parseRedirects(line, { geoip: true });
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

/**
 * TOML_REDIRECTS: one netlify.toml each, holding `[[redirects]]` as users write them (with Netlify's
 * older key names too). Each `_redirects` line of REDIRECTS that Netlify accepts is also tried as the
 * `[[redirects]]` entry Netlify's parser makes of it (see derivedToml).
 */
const TOML_REDIRECTS = [
  `[[redirects]]\nfrom = "/old"\nto = "/new"`,
  `[[redirects]]\nfrom = "/old"\nto = "/new"\nstatus = 302`,
  `[[redirects]]\nfrom = "/old"\nto = "/new"\nstatus = 301\nforce = true`,
  `[[redirects]]\nfrom = "/old"\nto = "/new"\nstatus = "302"`,
  `[[redirects]]\norigin = "/old"\ndestination = "/new"`,
  `[[redirects]]\nfrom = "/app/*"\nstatus = 200`,
  `[[redirects]]\nfrom = "/app/*"\nstatus = 302`,
  `[[redirects]]\nfrom = "/old"`,
  `[[redirects]]\nto = "/new"`,
  `[[redirects]]\nfrom = "/store"\nto = "/items/:id"\nquery = {id = ":id"}`,
  `[[redirects]]\nfrom = "/store"\nto = "/items/:id"\nparams = {id = ":id"}`,
  `[[redirects]]\nfrom = "/api/*"\nto = "https://api.example.com/:splat"\nstatus = 200\nforce = true\nheaders = {X-From = "Netlify"}`,
  `[[redirects]]\nfrom = "/api/*"\nto = "https://api.example.com/:splat"\nstatus = 200\nsigned = "API_SIGNATURE_TOKEN"`,
  `[[redirects]]\nfrom = "/fr/*"\nto = "/fr/:splat"\nstatus = 200\nconditions = {Language = ["fr"]}`,
  `[[redirects]]\nfrom = "/fr/*"\nto = "/fr/:splat"\nstatus = 200\nconditions = {language = ["fr", "fr-ca"]}`,
  `[[redirects]]\nfrom = "/"\nto = "/us"\nstatus = 302\nconditions = {Country = ["US"]}`,
  `[[redirects]]\nfrom = "/admin/*"\nto = "/admin/:splat"\nstatus = 200\nforce = true\nconditions = {Role = ["admin"]}`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nconditions = {Cookie = ["session"]}`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\ncolour = "blue"`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nstatus = 418`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nstatus = "moved"`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nheaders = "X-A"`,
  `[[redirects]]\nfrom = "/a b"\nto = "/c"`,
  `[[redirects]]\nfrom = "/a"\nto = "/b c"`,
  `[[redirects]]\nfrom = "https://old.example.com/*"\nto = "https://new.example.com/:splat"\nforce = true`,
  `[[redirects]]\nfrom = "/.netlify/functions/x"\nto = "/y"`,
  `[[redirects]]\nfrom = "/x"\nto = "/../etc/passwd"\nstatus = 200`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nrate_limit = {window_limit = 10}`,
  `redirects = [{from = "/inline", to = "/array"}]`,
  `redirects = "/a /b"`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\n\n[[redirects]]\nfrom = "/c"\nto = "/d"\nstatus = 302`,
  `[build]\ncommand = "npm run build"\n\n[[redirects]]\nfrom = "/a"\nto = "/b"`,
  `[[redirects]]\nfrom = "/a"\nto = "/b"\nstatus = 301\nforce = "yes"`,
];

/** TOML_HEADERS: one netlify.toml each, holding `[[headers]]`. */
const TOML_HEADERS = [
  `[[headers]]\nfor = "/*"\n[headers.values]\nX-Frame-Options = "DENY"\nX-XSS-Protection = "1; mode=block"`,
  `[[headers]]\nfor = "/*"\n  [headers.values]\n  cache-control = \'\'\'\n  max-age=0,\n  no-cache,\n  no-store,\n  must-revalidate\'\'\'`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nLink = ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"]`,
  `[[headers]]\nfor = "/assets/*"\nvalues = {Cache-Control = "public, max-age=31536000, immutable"}`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "someuser:{SHA512-CRYPT}rounds=5000~abcdefghijklmnop~${"a".repeat(86)}"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "someuser:somepassword"`,
  `[[headers]]\nfor = "/*"`,
  `[[headers]]\nfor = "/*"\n[headers.values]`,
  `[[headers]]\n[headers.values]\nX-A = "b"`,
  `[[headers]]\nfor = 1\n[headers.values]\nX-A = "b"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nX-A = 1`,
  `[[headers]]\nfor = "/*"\nvalues = "X-A: b"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\n"X A" = "b"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nSet-Cookie = "a=b; Domain=example.com"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nX-Quote = 'say "hi"'`,
  `[[headers]]\nfor = "/*.css"\n[headers.values]\nX-A = "b"`,
  `[[headers]]\nfor = "/*"\ncolour = "blue"\n[headers.values]\nX-A = "b"`,
  `headers = [{for = "/inline", values = {X-A = "b"}}]`,
  `[[headers]]\nfor = "/a"\n[headers.values]\nX-A = "1"\n\n[[headers]]\nfor = "/b"\n[headers.values]\nX-B = "2"`,
  `[[headers]]\nfor = "/*"\n[headers.values]\nX-Multi = \"\"\"\nfirst line\nsecond line\"\"\"`,
];

/** TOML_DIFFERENCES: netlify.toml entries Netlify and Sprout disagree on, and why (as DIFFERENCES). */
const TOML_DIFFERENCES: Record<string, string> = {
  [TOML_REDIRECTS[11]!]: "headers sent to a proxied site are not supported: the rule applies without them, with a warning",
  [TOML_REDIRECTS[12]!]: "signed proxy requests are not supported (as Sign= in _redirects)",
  [TOML_REDIRECTS[16]!]: "Role needs Netlify Identity: the deploy fails, as skipping it would leave the content public",
  [TOML_REDIRECTS[18]!]: "Netlify ignores unknown keys silently; Sprout warns (the rule applies)",
  [TOML_REDIRECTS[19]!]: "statuses: 200, 301, 302, 303, 307, 308, 401, 403, 404, 410 and 451 only",
  [TOML_REDIRECTS[22]!]: "white space in a path: refused, as in _redirects",
  [TOML_REDIRECTS[23]!]: "white space in a target: refused, as in _redirects",
  [TOML_REDIRECTS[24]!]: "domain-level rules: a Sprout site has one host name",
  [TOML_REDIRECTS[26]!]: "targets may not leave the deployment (.. segments)",
  [TOML_REDIRECTS[27]!]: "rate limiting is not supported: the rule applies without it, with a warning",
  [TOML_REDIRECTS[32]!]: "force must be a boolean (Netlify passes any value on)",
  [TOML_HEADERS[5]!]: "a plain Basic-Auth password reaches a node only hashed: `sprout deploy` hashes it, a node refuses it as sent",
  [TOML_HEADERS[12]!]: "header names are letters, digits and - only",
  [TOML_HEADERS[13]!]: "Set-Cookie with a Domain would reach other sites on the platform's domain",
  [TOML_HEADERS[14]!]: '" \\ and $ are refused in header values (they would reach nginx\'s configuration)',
  [TOML_HEADERS[15]!]: "a * in header paths must be a whole segment (/assets/*), not part of one (/*.css)",
  [TOML_HEADERS[16]!]: "Netlify ignores unknown keys silently; Sprout warns (the headers apply)",
  [TOML_HEADERS[19]!]: "a line break inside a header value (no comma before it) is refused; Netlify sends it on",
};

/**
 * SYNTAX_ONLY: `_redirects` lines whose difference is in reading the line itself (a stray word, a
 * doubled `!`, a space in a path), which the [[redirects]] entry Netlify makes of them does not carry.
 */
const SYNTAX_ONLY = new Set(["/a /b 301 extra", "/a /b 301!!", "/path/with spaces /x"]);

/** derivedToml writes a `_redirects` line as the `[[redirects]]` entry Netlify's parser makes of it (null if Netlify refuses the line). */
async function derivedToml(line: string, i: number): Promise<string | null> {
  const file = join(dir, `d${i}`);
  writeFileSync(file, `${line}\n`);
  const r = await parseAllRedirects({ redirectsFiles: [file], configRedirects: [], minimal: true });
  if (r.errors.length || r.redirects.length !== 1) return null;
  return stringify({ redirects: r.redirects });
}

async function netlifyAcceptsToml(toml: string, i: number): Promise<boolean> {
  const file = join(dir, `t${i}.toml`);
  writeFileSync(file, `${toml}\n`);
  const [r, h] = await Promise.all([
    parseAllRedirects({ redirectsFiles: [], netlifyConfigPath: file, configRedirects: [], minimal: false }),
    parseAllHeaders({ headersFiles: [], netlifyConfigPath: file, configHeaders: [], minimal: false }),
  ]);
  return r.errors.length === 0 && h.errors.length === 0;
}
const sproutAcceptsToml = (toml: string) => readRules({ redirects: null, headers: null, netlifyToml: `${toml}\n`, spa: false }, { geoip: true }).warnings.length === 0;

describe("Sprout reads netlify.toml's [[redirects]] and [[headers]] as Netlify's own parsers do", () => {
  test("every _redirects line Netlify accepts is taken or refused as the [[redirects]] entry Netlify makes of it, and makes the same rule", async () => {
    const differ: string[] = [];
    const expected: string[] = [];
    let n = 0;
    for (const [i, line] of REDIRECTS.entries()) {
      const toml = await derivedToml(line, i);
      if (toml === null) continue;
      n++;
      if (DIFFERENCES[line] && !SYNTAX_ONLY.has(line)) expected.push(line);
      if ((await netlifyAcceptsToml(toml, i)) !== sproutAcceptsToml(toml)) differ.push(line);
      // Where Sprout takes both, both forms make the same rule.
      const fromLine = parseRedirects(line, { geoip: true });
      const fromToml = readRules({ redirects: null, headers: null, netlifyToml: toml, spa: false }, { geoip: true });
      if (fromLine.rules.length === 1 && fromToml.rules.length === 1) {
        const { file: _f, line: _l, ...a } = fromLine.rules[0]!;
        const { file: _g, line: _m, ...b } = fromToml.rules[0]!;
        expect(b, line).toEqual(a);
      }
    }
    expect(n).toBeGreaterThanOrEqual(40);
    expect(differ.sort()).toEqual(expected.sort());
  });

  test("every netlify.toml entry is accepted by both or refused by both, except the documented differences", async () => {
    const differ: string[] = [];
    for (const [i, toml] of [...TOML_REDIRECTS, ...TOML_HEADERS].entries()) if ((await netlifyAcceptsToml(toml, 1000 + i)) !== sproutAcceptsToml(toml)) differ.push(toml);
    expect(differ.sort()).toEqual([...TOML_REDIRECTS, ...TOML_HEADERS].filter((t) => TOML_DIFFERENCES[t]).sort());
  });
});
