import { SignJWT, jwtVerify, importJWK, exportJWK, generateKeyPair, errors as joseErrors, type JWK } from "jose";
import { SproutError } from "./errors";

/**
 * UploadGrant is what the master signs (Ed25519) when it creates a deployment: the right to upload
 * exactly this manifest for this deployment of this site to this agent, for a few minutes. Agents
 * check it with the master's public key, without a round trip.
 */
export interface UploadGrant {
  site: string;
  deployment_id: string;
  agent_id: string;
  manifest_digest: string;
  /** production: the deployment goes live on the production URL once staged. */
  production: boolean;
}

const GRANT_TYP = "sprout-upload-grant";
const UPLOAD_TYP = "sprout-upload-token";

/** GrantKeys is the master's key pair as JWK JSON strings (persisted in the master's data folder). */
export interface GrantKeys {
  privateJwk: string;
  publicJwk: string;
}

/** generateGrantKeys makes a new Ed25519 key pair. */
export async function generateGrantKeys(): Promise<GrantKeys> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return {
    privateJwk: JSON.stringify(await exportJWK(privateKey)),
    publicJwk: JSON.stringify(await exportJWK(publicKey)),
  };
}

/** signGrant signs an UploadGrant valid for `ttlSeconds`. */
export async function signGrant(privateJwk: string, grant: UploadGrant, ttlSeconds = 15 * 60): Promise<string> {
  const key = await importJWK(JSON.parse(privateJwk) as JWK, "EdDSA");
  return new SignJWT({ ...grant, typ: GRANT_TYP })
    .setProtectedHeader({ alg: "EdDSA" })
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

/** verifyGrant checks signature, expiry and type of a grant, and throws a 401/403 SproutError otherwise. */
export async function verifyGrant(publicJwk: string, token: string): Promise<UploadGrant> {
  const key = await importJWK(JSON.parse(publicJwk) as JWK, "EdDSA");
  const payload = await verifyOrThrow(() => jwtVerify(token, key, { algorithms: ["EdDSA"] }), "upload grant");
  if (payload.typ !== GRANT_TYP) throw new SproutError(401, "bad_grant", "This is not an upload grant.");
  return {
    site: String(payload.site),
    deployment_id: String(payload.deployment_id),
    agent_id: String(payload.agent_id),
    manifest_digest: String(payload.manifest_digest),
    production: payload.production === true,
  };
}

/** UploadTokenClaims binds an agent-issued upload token to one site and deployment. */
export interface UploadTokenClaims {
  site: string;
  deployment_id: string;
  manifest_digest: string;
}

/** signUploadToken issues the agent's own upload token (HS256 with the agent's local secret). */
export async function signUploadToken(secret: Uint8Array, claims: UploadTokenClaims, ttlSeconds = 60 * 60): Promise<string> {
  return new SignJWT({ ...claims, typ: UPLOAD_TYP })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(secret);
}

/** verifyUploadToken checks an upload token issued by this agent. */
export async function verifyUploadToken(secret: Uint8Array, token: string): Promise<UploadTokenClaims> {
  const payload = await verifyOrThrow(() => jwtVerify(token, secret, { algorithms: ["HS256"] }), "upload token");
  if (payload.typ !== UPLOAD_TYP) throw new SproutError(401, "bad_upload_token", "This is not an upload token.");
  return {
    site: String(payload.site),
    deployment_id: String(payload.deployment_id),
    manifest_digest: String(payload.manifest_digest),
  };
}

async function verifyOrThrow<T extends { payload: Record<string, unknown> }>(f: () => Promise<T>, what: string) {
  try {
    return (await f()).payload;
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired)
      throw new SproutError(401, "expired", `The ${what} has expired.`, "Run the deploy again to get a fresh one.");
    throw new SproutError(401, "invalid_token", `The ${what} is not valid (bad signature or malformed).`);
  }
}
