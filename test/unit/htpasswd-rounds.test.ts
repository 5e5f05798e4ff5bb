// A SHA-512 crypt hash is checked by nginx in its worker at every try: its rounds are bounded.
import { expect, test } from "bun:test";
import { cryptRounds, hashProblem, htpasswdHash, MAX_CRYPT_ROUNDS } from "../../src/shared/htpasswd";
import { parseHeaders } from "../../src/agent/nginx/rules/headers";

const tail = `s4ltS4lt$${"a".repeat(86)}`;

test("rounds are read from either form of a SHA-512 crypt hash; 5,000 when unsaid", () => {
  expect(cryptRounds(`$6$${tail}`)).toBe(5000);
  expect(cryptRounds(`$6$rounds=999999999$${tail}`)).toBe(999999999);
  expect(cryptRounds(`{SHA512-CRYPT}rounds=0999999999~${tail.replace("$", "~")}`)).toBe(999999999);
  expect(cryptRounds("{SSHA}abc")).toBeNull();
  expect(hashProblem(`$6$rounds=${MAX_CRYPT_ROUNDS}$${tail}`)).toBeNull();
  expect(hashProblem(`$6$rounds=${MAX_CRYPT_ROUNDS + 1}$${tail}`)).toContain("rounds");
});

test("_headers refuses such a hash with a fatal warning; a kept one is written as a cheap hash no one types", () => {
  const { blocks, warnings } = parseHeaders(`/p\n  Basic-Auth: bob:$6$rounds=999999999$${tail}\n`);
  expect(blocks).toEqual([]);
  expect(warnings.some((w) => w.fatal && w.line === 2 && w.message.includes("rounds"))).toBe(true);
  const written = htpasswdHash("bob", `$6$rounds=999999999$${tail}`, new Uint8Array(8));
  expect(written).toMatch(/^\$6\$rounds=5000\$/);
  expect(htpasswdHash("bob", `$6$rounds=6000$${tail}`, new Uint8Array(8))).toBe(`$6$rounds=6000$${tail}`);
});
