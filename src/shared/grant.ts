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
  /**
   * owner: the account the site belongs to. The node records that this account proved it holds each
   * blob it uploads, and lets a deployment link only blobs its account holds (content isolation).
   */
  owner: string;
}

const GRANT_TYP = "sprout-upload-grant";
const UPLOAD_TYP = "sprout-upload-token";
const PEER_TYP = "sprout-peer-fetch";
const STATUS_TYP = "sprout-agent-status";

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
    owner: requireClaim(payload, "owner", "upload grant"),
  };
}

/** UploadTokenClaims binds an agent-issued upload token to one site and deployment. */
export interface UploadTokenClaims {
  site: string;
  deployment_id: string;
  manifest_digest: string;
  owner: string;
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
    owner: requireClaim(payload, "owner", "upload token"),
  };
}

/**
 * PeerFetchClaims is the master's permission for node `to` to download, from node `from`, the blobs
 * that account `owner` holds there, to replicate deployment `deployment_id`. Signed with the grant
 * key, so the serving node checks it without a round trip; it lives as long as a replication may take.
 */
export interface PeerFetchClaims {
  deployment_id: string;
  owner: string;
  from: string;
  to: string;
}

/** signPeerToken signs PeerFetchClaims (Ed25519, the upload-grant key). */
export async function signPeerToken(privateJwk: string, claims: PeerFetchClaims, ttlSeconds = 30 * 60): Promise<string> {
  const key = await importJWK(JSON.parse(privateJwk) as JWK, "EdDSA");
  return new SignJWT({ ...claims, typ: PEER_TYP }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().setExpirationTime(`${ttlSeconds}s`).sign(key);
}

/** verifyPeerToken checks a peer-fetch token's signature, expiry and type. */
export async function verifyPeerToken(publicJwk: string, token: string): Promise<PeerFetchClaims> {
  const key = await importJWK(JSON.parse(publicJwk) as JWK, "EdDSA");
  const payload = await verifyOrThrow(() => jwtVerify(token, key, { algorithms: ["EdDSA"] }), "peer token");
  if (payload.typ !== PEER_TYP) throw new SproutError(401, "bad_peer_token", "This is not a peer-fetch token.");
  return {
    deployment_id: requireClaim(payload, "deployment_id", "peer token"),
    owner: requireClaim(payload, "owner", "peer token"),
    from: requireClaim(payload, "from", "peer token"),
    to: requireClaim(payload, "to", "peer token"),
  };
}

/**
 * signStatusToken lets the master (or an operator holding its key) read one agent's full status at
 * the agent's `GET /api/heartbeat`; without a token the agent answers liveness only.
 */
export async function signStatusToken(privateJwk: string, agentId: string, ttlSeconds = 5 * 60): Promise<string> {
  const key = await importJWK(JSON.parse(privateJwk) as JWK, "EdDSA");
  return new SignJWT({ agent_id: agentId, typ: STATUS_TYP }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().setExpirationTime(`${ttlSeconds}s`).sign(key);
}

/** verifyStatusToken answers the agent id a status token was signed for. */
export async function verifyStatusToken(publicJwk: string, token: string): Promise<string> {
  const key = await importJWK(JSON.parse(publicJwk) as JWK, "EdDSA");
  const payload = await verifyOrThrow(() => jwtVerify(token, key, { algorithms: ["EdDSA"] }), "status token");
  if (payload.typ !== STATUS_TYP) throw new SproutError(401, "bad_status_token", "This is not a status token.");
  return requireClaim(payload, "agent_id", "status token");
}

/** requireClaim reads a non-empty string claim (a grant from an older master lacks the new ones). */
function requireClaim(payload: Record<string, unknown>, name: string, what: string): string {
  const v = payload[name];
  if (typeof v !== "string" || !v)
    throw new SproutError(401, "invalid_token", `The ${what} lacks its "${name}" claim (it comes from an older master).`, "Update the master and run the deploy again.");
  return v;
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
