// The rules engine tries a rule's regex only on keys that start with the regex's literal prefix
// (literal-prefix.ts): the prefix must hold for every key the regex matches, or a rule would stop
// matching on the Lua engine alone.
import { expect, test } from "bun:test";
import { resourceRegex, ruleRegex, type Slots } from "../../src/agent/nginx/rules/compile";
import { literalPrefix } from "../../src/agent/nginx/rules/literal-prefix";
import { readRules } from "../../src/agent/nginx/rules/read";

test("a prefix is the literal text after ^, up to the first construct, never a quantified character", () => {
  expect(literalPrefix("^/old-page/?#\\|[^|]*$")).toBe("/old-page");
  expect(literalPrefix("^/a\\.b\\|c(?:/(?<s>.*))?$")).toBe("/a.b|c");
  expect(literalPrefix("^/blog/ab*")).toBe("/blog/a");
  expect(literalPrefix("^/ab+c")).toBe("/a");
  expect(literalPrefix("^/ab{2}")).toBe("/a");
  expect(literalPrefix("^/a\\.?b")).toBe("/a");
  expect(literalPrefix("^/a[bc]d")).toBe("/a");
  expect(literalPrefix("^/a.b")).toBe("/a");
  expect(literalPrefix("^/a\\db")).toBe("/a");
  expect(literalPrefix("^/a(?i:b)")).toBe("/a");
  // None: not anchored, an alternative at the top level, quoting or extended mode.
  expect(literalPrefix("/a/b")).toBe("");
  expect(literalPrefix("^/a|/b")).toBe("");
  expect(literalPrefix("^/a(?:x)|/b")).toBe("");
  expect(literalPrefix("^/a[|]|/b")).toBe("");
  expect(literalPrefix("^/a[]|]|/b")).toBe("");
  expect(literalPrefix("^/a\\Q|\\E")).toBe("");
  expect(literalPrefix("^/a(?x)#(\n|/b")).toBe("");
  // An alternative inside a group or a class keeps the prefix before it.
  expect(literalPrefix("^/a(?:b|c)")).toBe("/a");
  expect(literalPrefix("^/a[|]")).toBe("/a");
});

const REDIRECTS = `
/old /new 301
/old-page-2 /x 301
/old-page-29 /y 301
/blog/* /posts/:splat 301
/p/:id /items/:id 301
/p/:id/edit /items/:id 302!
/authors/c%C3%A9line /authors/celine 301
/search q=:q /find/:q 302
/search /find 302
/shop id=:id /product/:id 301
/lang/* /en/:splat 302 Language=en,de
/eu/* /eu-only 302 Country=de,fr
/beta/* /beta-on 302 Cookie=beta
/* /index.html 200
/:year/:month/:slug /posts/:slug 301
/a.b/c+d /dots 301
/spaces%20here /s 301
`;

test("every key a site's rule matches starts with the rule's prefix, and literal rules have one", () => {
  const { rules } = readRules({ redirects: REDIRECTS, headers: null, netlifyToml: null, spa: false });
  expect(rules.length).toBeGreaterThanOrEqual(15);
  const params = [...new Set(rules.flatMap((r) => r.query.map((q) => q.key)))];
  const cookies = [...new Set(rules.flatMap((r) => (r.cookie ? [r.cookie] : [])))];
  const slots: Slots = { params, cookies, language: true, country: true };
  const uris = ["/", "/old", "/old/", "/old-page-2", "/old-page-29", "/old-page-2/", "/blog", "/blog/", "/blog/a/b", "/bloggy", "/p/7", "/p/7/", "/p/7/edit", "/p//edit", "/authors/céline", "/authors/c%C3%A9line", "/search", "/shop", "/lang/x", "/eu/y", "/beta/z", "/2024/05/hello", "/a.b/c+d", "/aXb/c+d", "/spaces here", "/spaces%20here", "/x/y/z"];
  const values = ["", "abc", "a|b"];
  let matched = 0;
  for (const r of rules) {
    const re = ruleRegex(r, slots);
    const prefix = literalPrefix(re);
    const js = new RegExp(re.replace(/\(\?i:/g, "(?:"));
    for (const uri of uris)
      for (const e of ["", "1"])
        for (const v of values)
          for (const cookie of ["", "1"])
            for (const lang of ["", "en", "fr"]) {
              const key = `${uri}#${e}${params.map(() => `|${v}`).join("")}${cookies.map(() => `|${cookie}`).join("")}|${lang}|${lang === "fr" ? "FR" : "DE"}`;
              if (js.test(key)) {
                matched++;
                expect(key.startsWith(prefix)).toBe(true);
              }
            }
  }
  expect(matched).toBeGreaterThan(100);
  const prefixOf = (from: string) => literalPrefix(ruleRegex(rules.find((r) => r.from === from)!, slots));
  expect(prefixOf("/old")).toBe("/old");
  expect(prefixOf("/blog/*")).toBe("/blog");
  expect(prefixOf("/p/:id")).toBe("/p/");
});

test("every resource a _headers block matches starts with the block's prefix", () => {
  for (const path of ["/*", "/assets/*", "/about", "/docs/", "/blog/:slug", "/a.b/*", "/x%20y/*"]) {
    const re = `^${resourceRegex(path)}$`;
    const prefix = literalPrefix(re);
    for (const res of ["/", "/assets", "/assets/app.js", "/about", "/docs", "/docs/x", "/blog/post", "/blog", "/a.b/c", "/aXb/c", "/x%20y/z", "/x y/z"]) {
      if (new RegExp(re).test(res)) expect(res.startsWith(prefix)).toBe(true);
    }
  }
  expect(literalPrefix(`^${resourceRegex("/assets/*")}$`)).toBe("/assets");
});
