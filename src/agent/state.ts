import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * AgentState is what the agent learned from the master (its id, the platform domain, the key that
 * signs upload grants) plus its own upload-token secret, saved in <data>/state.json (0600) so a
 * restarted agent serves and verifies uploads even while the master is away.
 */
export interface AgentState {
  agentId: string | null;
  domain: string | null;
  grantPublicKey: string | null;
  uploadSecret: string;
}

export class StateFile {
  readonly path: string;
  state: AgentState;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "state.json");
    this.state = existsSync(this.path)
      ? (JSON.parse(readFileSync(this.path, "utf8")) as AgentState)
      : { agentId: null, domain: null, grantPublicKey: null, uploadSecret: randomBytes(32).toString("base64url") };
    this.save();
  }

  update(change: Partial<AgentState>): boolean {
    const next = { ...this.state, ...change };
    if (JSON.stringify(next) === JSON.stringify(this.state) && existsSync(this.path)) return false;
    this.state = next;
    this.save();
    return true;
  }

  uploadSecret(): Uint8Array {
    return new TextEncoder().encode(this.state.uploadSecret);
  }

  private save() {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
