import { SproutError } from "./errors";

// node:crypto and node:tls are loaded when first used, not when this module is: every CLI command
// imports this file, and loading both costs about a fifth of a quick command's start-up.
const nodeCrypto = (): typeof import("node:crypto") => require("node:crypto");
const nodeTls = (): typeof import("node:tls") => require("node:tls");

/**
 * Transport security between Sprout's parts (master, agents, gateways, CLI).
 *
 * A part that has no certificate from a public CA makes a self-signed one at first start and prints its
 * *pin*: the SHA-256 of its public key (SubjectPublicKeyInfo), base64, written `sha256//...` exactly as
 * curl's `--pinnedpubkey` takes it. Whoever connects is given the pin out of band (the agent's join
 * command, `sprout login --pin`, the master's answers naming an agent) and accepts that key only, with
 * no certificate authority involved. Tokens never cross plain HTTP except on loopback (see
 * assertPrivateTransport).
 */

/** PIN_PATTERN: `sha256//` and 44 base64 characters (32 bytes). */
export const PIN_PATTERN = "^sha256//[A-Za-z0-9+/]{43}=$";

/** pinOf answers the pin (`sha256//<base64 SHA-256 of the SPKI>`) of a PEM or DER certificate. */
export function pinOf(cert: string | Uint8Array): string {
  const { X509Certificate, createHash } = nodeCrypto();
  const spki = new X509Certificate(typeof cert === "string" ? cert : Buffer.from(cert)).publicKey.export({ type: "spki", format: "der" });
  return `sha256//${createHash("sha256").update(spki).digest("base64")}`;
}

/** normalizePin checks a pin typed by an operator; a missing `sha256//` prefix is added. */
export function normalizePin(raw: string, what: string): string {
  const pin = raw.trim().startsWith("sha256//") ? raw.trim() : `sha256//${raw.trim()}`;
  if (!new RegExp(PIN_PATTERN).test(pin))
    throw new SproutError(400, "bad_pin", `${what} "${raw}" is not a certificate pin.`, "A pin looks like sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= (the master and agents print theirs when they start).");
  return pin;
}

/** isLoopbackHost: the name or address answers only on this machine (localhost, *.localhost, 127/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::1";
}

/**
 * assertPrivateTransport refuses to send a credential to `url` over plain HTTP unless the host is this
 * machine: on any network a token sent in clear is a token given away.
 */
export function assertPrivateTransport(url: string, what: string, flag?: string) {
  const u = new URL(url);
  if (u.protocol === "http:" && !isLoopbackHost(u.hostname))
    throw new SproutError(
      400,
      "insecure_transport",
      `${what} is ${u.origin}: plain HTTP to another machine would send tokens in clear.`,
      `Use https:// (the master serves HTTPS when it listens beyond loopback: \`sprout master --tls auto\`)${flag ? `, or pass ${flag} if a network you trust carries it` : ""}.`,
    );
}

/** SelfSigned is a certificate and its key, PEM, with the certificate's pin. */
export interface SelfSigned {
  certPem: string;
  keyPem: string;
  pin: string;
}

/**
 * selfSignedCertificate makes an ECDSA P-256 certificate valid `days` for `names` (DNS names and IP
 * addresses). Clients pin its key, so the names only matter to browsers and curl without the pin.
 */
export async function selfSignedCertificate(commonName: string, names: string[], days = 3650): Promise<SelfSigned> {
  const x509 = await import("@peculiar/x509");
  const { webcrypto } = nodeCrypto();
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
  const isIp = (n: string) => /^[0-9.]+$/.test(n) || n.includes(":");
  const unique = [...new Set(names.filter(Boolean))];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${commonName.replace(/[,=+<>#;"\\]/g, "")}`,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + days * 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(unique.map((n) => ({ type: isIp(n) ? ("ip" as const) : ("dns" as const), value: n }))),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as never));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;
  const certPem = cert.toString("pem") + "\n";
  return { certPem, keyPem, pin: pinOf(certPem) };
}

const pemOfPin = new Map<string, string>();

/** peerCertificate connects to `url` without checking anything and answers the certificate it presents. */
function peerCertificate(url: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const sock = nodeTls().connect({ host, port: Number(url.port || 443), servername: /^[0-9.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false }, () => {
      const raw = sock.getPeerCertificate()?.raw;
      sock.end();
      if (!raw) return reject(new Error("no certificate presented"));
      resolve(`-----BEGIN CERTIFICATE-----\n${Buffer.from(raw).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`);
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error("TLS handshake timed out")));
    sock.on("error", reject);
  });
}

/** presentedPin answers the pin of the certificate `url`'s server presents (for messages that ask the user to check it). */
export async function presentedPin(url: string): Promise<string | null> {
  return peerCertificate(new URL(url)).then(pinOf, () => null);
}

const mismatch = (url: URL, pin: string, got: string) =>
  new SproutError(
    495,
    "certificate_mismatch",
    `The certificate of ${url.host} is not the one pinned (${pin}); it presents ${got}.`,
    "Someone may be intercepting the connection. If the certificate was replaced on purpose, use its new pin (printed when the server starts).",
  );

/** pinnedCertificate answers the PEM certificate `url` presents, once checked against `pin`. */
export async function pinnedCertificate(url: string, pin: string): Promise<string> {
  let pem = pemOfPin.get(pin);
  if (!pem) {
    const u = new URL(url);
    const presented = await peerCertificate(u);
    const got = pinOf(presented);
    if (got !== pin) throw mismatch(u, pin, got);
    pem = presented;
    pemOfPin.set(pin, pem);
  }
  return pem;
}

/**
 * pinnedTls answers fetch's `tls` options that accept `url`'s server only when its key matches `pin`:
 * the certificate is fetched once (and checked against the pin) to be the only trust anchor, and every
 * connection checks the key again (a replaced certificate is refused, whatever its host names).
 */
export async function pinnedTls(url: string, pin: string) {
  const u = new URL(url);
  const pem = await pinnedCertificate(url, pin);
  return {
    ca: pem,
    checkServerIdentity: (_host: string, cert: { raw?: Uint8Array }) => {
      const got = cert.raw ? pinOf(cert.raw) : "nothing";
      return got === pin ? undefined : mismatch(u, pin, got);
    },
  };
}

/**
 * secureFetch is fetch that, given a pin and an https:// URL, talks only to the server holding the
 * pinned key. A mismatch throws SproutError `certificate_mismatch`; without a pin the system's CAs apply.
 */
export async function secureFetch(url: string, init: RequestInit = {}, pin?: string | null): Promise<Response> {
  if (!pin || !url.startsWith("https:")) return fetch(url, init);
  const tls = await pinnedTls(url, pin);
  try {
    return await fetch(url, { ...init, tls } as RequestInit);
  } catch (e) {
    // The server's certificate changed since it was fetched: look again, so the error names the new key.
    if (/self.signed|certificate|CERT/i.test((e as Error).message)) {
      pemOfPin.delete(pin);
      const presented = await peerCertificate(new URL(url)).catch(() => null);
      if (presented && pinOf(presented) !== pin) throw mismatch(new URL(url), pin, pinOf(presented));
    }
    throw e;
  }
}
