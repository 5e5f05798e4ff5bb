import { createHash, createHmac } from "node:crypto";

/**
 * ssha hashes a Basic-Auth password as nginx's `{SSHA}` (salted SHA-1). The salt is keyed by the
 * node's secret, not random, so the same `_headers` always compiles to the same files on a node
 * (no reload for an unchanged deploy) while staying unguessable elsewhere.
 */
export function ssha(user: string, password: string, secret: Uint8Array): string {
  if (password.startsWith("{SSHA}")) return password;
  const salt = createHmac("sha256", secret).update(`${user}\0${password}`).digest().subarray(0, 8);
  const digest = createHash("sha1").update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

/**
 * redactHeaders rewrites the `Basic-Auth:` lines of a `_headers` file with hashed passwords, so the
 * node never keeps them in plain text. Answers null when there is nothing to redact.
 */
export function redactHeaders(text: string, secret: Uint8Array): string | null {
  let changed = false;
  const out = text.split(/(\r?\n)/).map((line) => {
    const m = /^(\s+basic-auth\s*:\s*)(.*)$/i.exec(line);
    if (!m) return line;
    const pairs = m[2]!.split(/\s+/).filter(Boolean).map((pair) => {
      const i = pair.indexOf(":");
      if (i < 1 || pair.slice(i + 1).startsWith("{SSHA}")) return pair;
      changed = true;
      return `${pair.slice(0, i)}:${ssha(pair.slice(0, i), pair.slice(i + 1), secret)}`;
    });
    return m[1] + pairs.join(" ");
  });
  return changed ? out.join("") : null;
}
