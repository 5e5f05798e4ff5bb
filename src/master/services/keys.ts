import { eq } from "drizzle-orm";
import type { Db } from "../../db";
import { kv } from "../../db/schema";
import { generateGrantKeys, type GrantKeys } from "../../shared/grant";
import { newSecret } from "../../shared/ids";

/**
 * MasterKeys are the master's own secrets, made at first start and kept in the `kv` table:
 * the HS256 secret of access JWTs and the Ed25519 pair that signs upload grants.
 */
export interface MasterKeys {
  jwtSecret: Uint8Array;
  grant: GrantKeys;
}

export async function loadKeys(db: Db): Promise<MasterKeys> {
  const get = (key: string) => db.select().from(kv).where(eq(kv.key, key)).get()?.value;
  let jwt = get("jwt_secret");
  if (!jwt) {
    jwt = newSecret(48);
    db.insert(kv).values({ key: "jwt_secret", value: jwt }).onConflictDoNothing().run();
  }
  let grant = get("grant_keys");
  if (!grant) {
    grant = JSON.stringify(await generateGrantKeys());
    db.insert(kv).values({ key: "grant_keys", value: grant }).onConflictDoNothing().run();
  }
  return { jwtSecret: new TextEncoder().encode(get("jwt_secret")!), grant: JSON.parse(get("grant_keys")!) as GrantKeys };
}
