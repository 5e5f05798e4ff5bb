import { createHmac, randomBytes } from "node:crypto";
import { encrypt } from "unixcrypt";

/**
 * CRYPT_ROUNDS of SHA-512 crypt (glibc's `$6$rounds=N$salt$hash`, which nginx's auth_basic hands to
 * crypt(3)). nginx hashes the password of every protected request again, so this is a balance:
 * 5,000 rounds (glibc's default) cost about a millisecond per request there, and a guess as much.
 */
export const CRYPT_ROUNDS = 5000;

const SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** cryptSalt encodes 16 bytes as a crypt salt (16 characters of the crypt alphabet, the maximum). */
function cryptSalt(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += SALT_CHARS[bytes[i]! % 64];
  return s;
}

/**
 * CRYPT_PREFIX marks a SHA-512 crypt hash as written in a `_headers` file. The rules parser refuses
 * `$` in header values (nginx would read it as a variable), so `$6$rounds=N$salt$hash` is written
 * `{SHA512-CRYPT}rounds=N~salt~hash` there and turned back into crypt's form for the htpasswd file.
 */
export const CRYPT_PREFIX = "{SHA512-CRYPT}";

const HEADERS_CRYPT = /^\{SHA512-CRYPT\}(rounds=\d+~)?[./0-9A-Za-z]{1,16}~[./0-9A-Za-z]{86}$/;
const CRYPT = /^\$6\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/;

/**
 * MAX_CRYPT_ROUNDS bounds the rounds of a SHA-512 crypt hash a tenant gives. nginx runs crypt(3) for
 * every request that sends a password, in its worker, and that worker serves nothing else meanwhile:
 * 5,000 rounds take about 1 ms, 50,000 about 11 ms, and glibc's most (999,999,999) about 4 minutes, so
 * one site's hash and a few requests of anyone would stop the node's nginx for every site on it.
 */
export const MAX_CRYPT_ROUNDS = 50_000;

/** cryptRounds answers the rounds of a SHA-512 crypt hash (either form; 5,000 when unsaid), or null for another kind of hash. */
export function cryptRounds(hash: string): number | null {
  const m = /^(?:\$6\$|\{SHA512-CRYPT\})(?:rounds=(\d+)[$~])?/.exec(hash);
  if (!m) return null;
  return m[1] === undefined ? CRYPT_ROUNDS : Number(m[1]);
}

/** hashProblem says why a password hash a tenant gave cannot be used (it costs too much to check), or null. */
export function hashProblem(hash: string): string | null {
  const rounds = cryptRounds(hash);
  if (rounds === null || rounds <= MAX_CRYPT_ROUNDS) return null;
  return `the password hash takes ${rounds} rounds to check, over the ${MAX_CRYPT_ROUNDS} allowed (each visitor's try would hold the server that long); make it with openssl passwd -6, or give the password and let sprout deploy hash it`;
}

/** isPasswordHash tells a hash from a plain password: `{SSHA}` (older deploys), `{SHA512-CRYPT}` or crypt's `$6$`. */
export function isPasswordHash(password: string): boolean {
  return password.startsWith("{SSHA}") || HEADERS_CRYPT.test(password) || CRYPT.test(password);
}

/** toHeadersForm writes a crypt hash (`$6$...`) the way a `_headers` file holds it. */
export function toHeadersForm(crypt: string): string {
  return CRYPT_PREFIX + crypt.slice(3).replaceAll("$", "~");
}

/** toCryptForm turns a `_headers` hash back into crypt's `$6$...` (other forms pass unchanged). */
export function toCryptForm(hash: string): string {
  return hash.startsWith(CRYPT_PREFIX) ? `$6$${hash.slice(CRYPT_PREFIX.length).replaceAll("~", "$")}` : hash;
}

/** hashPassword hashes a Basic-Auth password with SHA-512 crypt and a random salt, in `_headers` form (the CLI's way). */
export function hashPassword(password: string): string {
  return toHeadersForm(encrypt(password, `$6$rounds=${CRYPT_ROUNDS}$${cryptSalt(randomBytes(16))}`));
}

/** nodeHash hashes a plain password on a node with a salt keyed by the node's secret (stable, unguessable). */
function nodeHash(user: string, password: string, secret: Uint8Array): string {
  const salt = createHmac("sha256", secret).update(`${user}\0${password}`).digest();
  return encrypt(password, `$6$rounds=${CRYPT_ROUNDS}$${cryptSalt(salt)}`);
}

/**
 * htpasswdHash answers the htpasswd line's hash of a Basic-Auth password on a node: a hash passes as
 * given (in crypt's form); a plain one (only from a file that came in under another name, see
 * uploads.ts) is hashed with a salt keyed by the node's secret, so the same `_headers` compiles to
 * the same files on this node (no reload for an unchanged deploy) while the salt stays unguessable.
 */
export function htpasswdHash(user: string, password: string, secret: Uint8Array): string {
  // A hash too costly to check (refused at deploy; kept by a deployment made before that check) is
  // taken as a password no one types: the page stays locked, at the usual cost per try.
  if (isPasswordHash(password) && !hashProblem(password)) return toCryptForm(password);
  return nodeHash(user, password, secret);
}

/** BASIC_AUTH_LINE matches a `Basic-Auth:` line of a `_headers` file: indent and name, then the pairs. */
const BASIC_AUTH_LINE = /^(\s+basic-auth\s*:\s*)(.*)$/i;

/**
 * rewriteBasicAuth replaces each plain password of the `Basic-Auth:` lines by `hash(user, password)`.
 * Answers null when there is nothing to replace.
 */
export function rewriteBasicAuth(text: string, hash: (user: string, password: string) => string): string | null {
  let changed = false;
  const out = text.split(/(\r?\n)/).map((line) => {
    const m = BASIC_AUTH_LINE.exec(line);
    if (!m) return line;
    const pairs = m[2]!.split(/\s+/).filter(Boolean).map((pair) => {
      const i = pair.indexOf(":");
      if (i < 1 || isPasswordHash(pair.slice(i + 1))) return pair;
      changed = true;
      return `${pair.slice(0, i)}:${hash(pair.slice(0, i), pair.slice(i + 1))}`;
    });
    return m[1] + pairs.join(" ");
  });
  return changed ? out.join("") : null;
}

/** hasPlainPassword tells whether a `_headers` text holds a Basic-Auth password that is not hashed. */
export function hasPlainPassword(text: string): boolean {
  return rewriteBasicAuth(text, () => "") !== null;
}

/** redactHeaders hashes the plain passwords of a `_headers` file on a node (see htpasswdHash). */
export function redactHeaders(text: string, secret: Uint8Array): string | null {
  return rewriteBasicAuth(text, (user, password) => toHeadersForm(nodeHash(user, password, secret)));
}
