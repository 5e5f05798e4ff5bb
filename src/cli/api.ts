import type { ErrorBody } from "../protocol/common";
import type { TokenPair } from "../protocol/user";
import type { Values } from "../shared/command";
import { SproutError, refusedConnection, unreachableReason } from "../shared/errors";
import { dim, info } from "./output";
import { loadStore, saveStore, selectProfile, withCredentialsLock } from "./credentials";
import { normalizeMaster } from "./master-url";
import { printable, printableDeep } from "./server-text";
import { LEGACY, SELF, compatible, peerOf, versionHeaders, versionMismatch } from "../protocol/version";
import { VERSION } from "../shared/version";

/** MASTER_RETRY_MS: how long a command keeps asking a master that refuses connections (a restart takes seconds). */
const MASTER_RETRY_MS = 15_000;

/** CLI_HEADERS name this CLI's build on every request to the master (see protocol/version.ts). */
const CLI_HEADERS = { ...versionHeaders(), "user-agent": `sprout-cli/${VERSION}` };
import { assertPrivateTransport, normalizePin, presentedPin, secureFetch } from "../shared/tls";

/**
 * Api is the CLI's client of the master. SPROUT_MASTER and SPROUT_TOKEN (an access JWT or API token)
 * win over stored credentials, for CI; otherwise a profile of credentials.json is used (`--profile`,
 * SPROUT_PROFILE, the one for --master, or the current one). An expired access token is refreshed
 * under the credentials lock (see withCredentialsLock), so CLIs sharing a login never revoke it.
 */
export class Api {
  constructor(
    readonly master: string,
    private token: string | null,
    /** profile: the credentials.json profile this client refreshes, when it uses one. */
    readonly profile: string | null,
    /** pin: the master's certificate pin (SPROUT_MASTER_PIN or the profile's), when it is self-signed. */
    readonly pin: string | null = null,
  ) {}

  /** fromEnv builds the client of a command from its --master/--profile flags and the environment. */
  static fromEnv(v: Values = {}): Api {
    const masterIn = typeof v.master === "string" && v.master ? v.master : process.env.SPROUT_MASTER || "";
    const profileName = typeof v.profile === "string" && v.profile ? v.profile : process.env.SPROUT_PROFILE || undefined;
    const masterFlag = masterIn ? normalizeMaster(masterIn, v.master ? "--master" : "SPROUT_MASTER") : "";
    const envPin = process.env.SPROUT_MASTER_PIN ? normalizePin(process.env.SPROUT_MASTER_PIN, "SPROUT_MASTER_PIN") : null;
    if (process.env.SPROUT_TOKEN) {
      const named = profileName ? selectProfile(loadStore(), { name: profileName })?.profile : undefined;
      const master = masterFlag || named?.master || "";
      if (!master) throw new SproutError(401, "not_logged_in", "SPROUT_TOKEN is set but no master is.", "Set SPROUT_MASTER to the master's URL too.");
      return new Api(master, process.env.SPROUT_TOKEN, null, envPin ?? named?.pin ?? null);
    }
    const sel = selectProfile(loadStore(), { name: profileName, master: masterFlag || undefined });
    if (sel && profileName && masterFlag && sel.profile.master !== masterFlag)
      throw new SproutError(400, "profile_master_mismatch", `Profile "${sel.name}" is for ${sel.profile.master}, not ${masterFlag}.`, `Drop --master, or log in to ${masterFlag} with \`sprout login --master ${masterFlag} --profile NAME\`.`);
    const master = masterFlag || sel?.profile.master || "";
    if (!master) throw new SproutError(401, "not_logged_in", "No master configured.", "Run `sprout login --master URL`, or set SPROUT_MASTER and SPROUT_TOKEN.");
    return new Api(master, sel?.profile.access_token ?? null, sel?.name ?? null, envPin ?? (sel?.profile.master === master ? sel.profile.pin : undefined) ?? null);
  }

  /** call sends a JSON request and answers the parsed JSON, or throws a SproutError from the error body. */
  async call<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    return parseResponse<T>(await this.sendRenewing(method, path, body, auth));
  }

  /** sendRenewing sends, renewing an expired access token (under the credentials lock) and sending again. */
  private async sendRenewing(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    let res = await this.send(method, path, body, auth);
    // A few rounds: the pair another process rotated to may itself expire before we use it.
    for (let round = 0; round < 3 && res.status === 401 && auth && this.profile; round++) {
      const err = (await res.clone().json().catch(() => null)) as ErrorBody | null;
      if (err?.error.code !== "token_expired" || !(await this.refresh())) break;
      res = await this.send(method, path, body, auth);
    }
    return res;
  }

  /**
   * all answers every item of a paginated list route (GET /api/sites), following each answer's
   * `X-Next-Cursor` with pages of 1,000.
   */
  async all<T>(path: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const res = await this.sendRenewing("GET", `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, undefined, true);
      cursor = res.headers.get("x-next-cursor");
      out.push(...(await parseResponse<T[]>(res)));
    } while (cursor);
    return out;
  }

  private async send(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    if (auth && !this.token) throw new SproutError(401, "not_logged_in", `You are not logged in to ${this.master}.`, `Run \`sprout login --master ${this.master}\`, or set SPROUT_TOKEN.`);
    // Tokens and passwords go to another machine over HTTPS only.
    assertPrivateTransport(this.master, "The master");
    const send = () =>
      request(`${this.master}${path}`, {
        method,
        headers: { ...CLI_HEADERS, ...(auth && this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }, `the master at ${this.master}`, this.pin);
    // A master the user is logged in to that refuses the connection is most likely restarting (an
    // upgrade, systemd's restart after a crash): asked again for a while, so that a CI job's deploy
    // does not fail on it. A refused request reached no server, so any method is safe to resend.
    // Not for calls without a login (`sprout login`), where a wrong URL should fail at once.
    const until = Date.now() + MASTER_RETRY_MS;
    let res: Response;
    for (let said = false; ; ) {
      try {
        res = await send();
        break;
      } catch (e) {
        if (!auth || !(e instanceof SproutError) || !refusedConnection(e.cause) || Date.now() >= until) throw e;
        if (!said) info(dim(`The master is unreachable (connection refused); trying again for up to ${MASTER_RETRY_MS / 1000} s, as it may be restarting...`));
        said = true;
        await Bun.sleep(500);
      }
    }
    // A master that predates this CLI's oldest protocol cannot know it: the CLI checks its answer too.
    const master = peerOf(res.headers) ?? LEGACY;
    if (!compatible(SELF, master)) throw versionMismatch(master, SELF, "CLI", this.master);
    return res;
  }

  /**
   * refresh renews the access token under the credentials lock. After taking the lock it re-reads
   * the profile: when its access token is no longer the one that expired here, another process
   * rotated the pair meanwhile and that one is used; only otherwise is the refresh token presented.
   */
  private async refresh(): Promise<boolean> {
    const name = this.profile;
    if (!name) return false;
    return withCredentialsLock(async () => {
      const stored = loadStore().profiles[name];
      if (!stored || stored.master !== this.master) return false;
      if (stored.access_token !== this.token) {
        this.token = stored.access_token;
        return true;
      }
      const res = await this.send("POST", "/api/token/refresh", { refresh_token: stored.refresh_token }, false);
      if (!res.ok) return false;
      const pair = (await res.json()) as TokenPair;
      const store = loadStore();
      store.profiles[name] = { ...stored, access_token: pair.access_token, refresh_token: pair.refresh_token };
      saveStore(store);
      this.token = pair.access_token;
      return true;
    });
  }
}

/**
 * request is fetch with an error that says which server could not be reached. With `pin`, only the
 * server holding that certificate key is accepted; a certificate nobody vouches for is refused with
 * the pin it presents, for the user to compare with the one the server printed.
 */
export async function request(url: string, init: RequestInit, what: string, pin?: string | null): Promise<Response> {
  try {
    return await secureFetch(url, init, pin);
  } catch (e) {
    if (e instanceof SproutError) throw e;
    const message = (e as Error).message;
    if (url.startsWith("https:") && /self.signed|unable to verify|certificate|CERT_/i.test(message)) {
      const seen = await presentedPin(url);
      const isMaster = what.includes("master");
      throw new SproutError(
        495,
        "untrusted_certificate",
        `${what[0]!.toUpperCase()}${what.slice(1)} presents a certificate no known authority signed${seen ? ` (pin ${seen})` : ""}.`,
        isMaster
          ? `If that is the pin \`sprout master\` printed, run \`sprout login --master ${new URL(url).origin} --pin ${seen ?? "sha256//..."}\` (or set SPROUT_MASTER_PIN).`
          : "The master names each node's pin; update the master and the node to the same version.",
      );
    }
    throw new SproutError(
      503,
      "unreachable",
      `Cannot reach ${what}: ${unreachableReason(e as Error)}.`,
      what.includes("master") ? "Is `sprout master` running, and is the master's URL right?" : "The node may be restarting: run the command again in a moment (a deploy uploads only what is still missing).",
      { cause: e },
    );
  }
}

/**
 * parseResponse answers the JSON of a 2xx response or throws the API's error as a SproutError. Every
 * server answer the CLI reads comes through here, so this is where control characters in its text
 * are made harmless (see printableDeep).
 */
export async function parseResponse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? printableDeep(JSON.parse(text)) : null;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const e = (data as ErrorBody | null)?.error;
    throw new SproutError(res.status, e?.code ?? "http_error", e?.message ?? `HTTP ${res.status}: ${printable(text.slice(0, 200))}`, e?.hint);
  }
  return data as T;
}
