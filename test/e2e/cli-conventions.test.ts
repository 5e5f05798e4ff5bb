// The CLI conventions of issue 8, against the compiled binary and a real master, agent and nginx:
// project file, init/link, deploy messages, open/logs/status, profiles, errors, completion, --json.
import { afterAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, cleanup, cluster, site, sproutBinary, tempDir, useCluster } from "../helpers/cluster";

const c = useCluster({ agents: 1 });
afterAll(cleanup);
const FIXTURES = join(import.meta.dir, "..", "fixtures", "generators");

/** project copies a generator fixture into a temporary folder, adding files. */
function project(fixture: string | null, files: Record<string, string> = {}): string {
  const dir = tempDir("sprout-project-");
  if (fixture) cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

/** as runs the CLI with its own config folder and no SPROUT_TOKEN/SPROUT_MASTER: only its profiles count. */
const as = (config: string) => (args: string[], cwd?: string, env: Record<string, string> = {}) =>
  c().sprout(args, { SPROUT_CONFIG_DIR: config, SPROUT_TOKEN: "", SPROUT_MASTER: "", SPROUT_PROFILE: "", ...env }, cwd);

const json = (s: string) => JSON.parse(s);

test("sprout init --yes detects the output folder of Vite, Next export, Astro, Hugo and Jekyll projects", async () => {
  // The other generators are covered by test/unit/cli-conventions.test.ts on the same fixtures.
  const cases = [["vite", "dist", "my-vite-app"], ["next-export", "out", "next-export-site"], ["astro", "dist", "astro-blog"], ["hugo", "public"], ["jekyll", "_site"]] as const;
  await Promise.all(
    cases.map(async ([fixture, publish, name]) => {
      const dir = project(fixture);
      const r = await c().sprout(["init", "--yes"], {}, dir);
      expect(r.code).toBe(0);
      const written = json(readFileSync(join(dir, "sprout.json"), "utf8"));
      expect(written.publish).toBe(publish);
      expect(written.$schema).toEndWith("sprout.schema.json");
      // The site is named after package.json's name, else the folder's.
      expect(written.site).toMatch(name ? new RegExp(`^${name}$`) : /^sprout-project-[a-z0-9-]+$/);
    }),
  );
  // Written once; a second init refuses rather than overwrite what the user edited.
  const dir = project("vite", { "sprout.json": "{}" });
  const again = await c().sprout(["init", "--yes"], {}, dir);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("sprout.json exists here already");
});

test("sprout init takes --site and --dir without asking, and refuses a name that is no site name", async () => {
  const dir = project(null, { "public/index.html": "hi" });
  const r = await c().sprout(["init", "--site", "docs-site", "--dir", "public"], {}, dir);
  expect(r.code).toBe(0);
  expect(json(readFileSync(join(dir, "sprout.json"), "utf8"))).toMatchObject({ site: "docs-site", publish: "public" });
  const bad = await c().sprout(["init", "--site", "Docs_Site", "--dir", "public", "--force"], {}, project(null));
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("is not a site name: 1-63 lower-case letters");
});

test("sprout deploy with no flags publishes sprout.json's folder to its site, with its ignore patterns and settings", async () => {
  const dir = project("vite", {
    "sprout.json": JSON.stringify({ site: "proj-site", publish: "dist", spa: true, ignore: ["*.map"] }),
    "dist/index.html": "<h1>from the project</h1>",
    "dist/assets/app.js": "console.log(1)",
    "dist/assets/app.js.map": "{}",
  });
  mkdirSync(join(dir, "src", "deep"), { recursive: true });
  // From a subfolder too: sprout.json is found in a parent, as npm finds package.json.
  const r = await c().sprout(["deploy", "--prod", "--json"], {}, join(dir, "src", "deep"));
  expect(r.code).toBe(0);
  const out = json(r.stdout);
  expect(out).toMatchObject({ site: "proj-site", status: "ready", is_production: true, files_total: 2, files_ignored: 1 });
  expect(r.stderr).toContain(`Publishing ../../dist ("publish" in ../../sprout.json) to proj-site`);
  expect(await (await c().get(`proj-site.${c().domain}`, "/")).text()).toContain("from the project");
  expect((await c().get(`proj-site.${c().domain}`, "/assets/app.js.map")).status).toBe(404);
  // spa from sprout.json: an unknown path serves index.html.
  expect(await (await c().get(`proj-site.${c().domain}`, "/some/route")).text()).toContain("from the project");
  const s = await api(c().master, "GET", "/api/site/proj-site", undefined, c().admin.token);
  expect(s.body.settings.spa).toBe(true);

});

test("flags and SPROUT_SITE win over sprout.json", async () => {
  const dir = project(null, { "sprout.json": JSON.stringify({ site: "file-site", publish: "dist" }), "dist/index.html": "file", "other/index.html": "other" });
  const r = await c().sprout(["deploy", "other", "--site", "flag-site", "--json"], {}, dir);
  expect(r.code).toBe(0);
  expect(json(r.stdout)).toMatchObject({ site: "flag-site", files_total: 1 });
  const e = await c().sprout(["deploy", "--json"], { SPROUT_SITE: "env-site" }, dir);
  expect(json(e.stdout).site).toBe("env-site");
});

test("sprout deploy never publishes a folder holding package.json by default: it names the folder or refuses with a hint", async () => {
  const plain = project("plain-node", { "index.html": "source" });
  const refused = await c().sprout(["deploy", "--site", "never-published"], {}, plain);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("This folder holds package.json, so Sprout will not publish it whole");
  expect(refused.stderr).toContain("hint: Name the built folder: `sprout deploy ./dist`");
  expect((await api(c().master, "GET", "/api/site/never-published", undefined, c().admin.token)).status).toBe(404);

  const vite = project("vite");
  const unbuilt = await c().sprout(["deploy", "--site", "vite-site"], {}, vite);
  expect(unbuilt.code).toBe(1);
  expect(unbuilt.stderr).toContain("This looks like a Vite project, whose build goes to dist, and that folder does not exist yet");
  expect(unbuilt.stderr).toContain("npm run build");
  writeFileSync(join(vite, "index.html"), "<h1>source</h1>");
  mkdirSync(join(vite, "dist"));
  writeFileSync(join(vite, "dist", "index.html"), "<h1>built</h1>");
  const built = await c().sprout(["deploy", "--site", "vite-site", "--prod", "--json"], {}, vite);
  expect(built.code).toBe(0);
  expect(built.stderr).toContain("Publishing dist (Vite's output folder");
  expect(json(built.stdout).files_total).toBe(1);

  const next = await c().sprout(["deploy", "--site", "next-site"], {}, project("next-server"));
  expect(next.code).toBe(1);
  expect(next.stderr).toContain("Set `output: 'export'` in next.config");
});

test("a deploy's message is stored on the master and shown in sprout deployments, status and --json", async () => {
  const dir = site({ "index.html": "v1" });
  const r = await c().sprout(["deploy", dir, "--site", "msg-site", "--prod", "--message", "Fix the pricing table", "--json"]);
  expect(r.code).toBe(0);
  const id = json(r.stdout).deployment_id;
  expect(json(r.stdout).message).toBe("Fix the pricing table");
  const list = await c().sprout(["deployments", "--site", "msg-site"]);
  expect(list.stdout).toMatch(new RegExp(`${id}.*Fix the pricing table`));
  const listJson = await c().sprout(["deployments", "--site", "msg-site", "--json"]);
  expect(json(listJson.stdout)[0]).toMatchObject({ id, message: "Fix the pricing table" });
  const noMessage = await c().sprout(["deploy", dir, "--site", "msg-site", "--json"]);
  expect(json(noMessage.stdout).message).toBeNull();
  const status = await c().sprout(["status", "--site", "msg-site"]);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`Production: ${id} "Fix the pricing table"`);
  // The API refuses an overlong message in plain words.
  const long = await api(c().master, "POST", "/api/deployment", { site: "msg-site", manifest: [], message: "x".repeat(501) }, c().admin.token);
  expect(long.status).toBe(400);
  expect(long.body.error.message).toBe("Invalid request: message: at most 500 characters.");
});

test("sprout link attaches an existing site, keeps the rest of sprout.json, and refuses an unknown one", async () => {
  await c().sprout(["sites", "create", "linked-site"]);
  const dir = project("astro", { "sprout.json": JSON.stringify({ publish: "dist", ignore: ["*.map"] }) });
  const r = await c().sprout(["link", "linked-site"], {}, dir);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Linked sprout.json to linked-site");
  expect(json(readFileSync(join(dir, "sprout.json"), "utf8"))).toMatchObject({ site: "linked-site", publish: "dist", ignore: ["*.map"] });
  const fresh = project("hugo");
  expect((await c().sprout(["link", "linked-site"], {}, fresh)).code).toBe(0);
  expect(json(readFileSync(join(fresh, "sprout.json"), "utf8"))).toMatchObject({ site: "linked-site", publish: "public" });
  const unknown = await c().sprout(["link", "no-such-site"], {}, project(null));
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("You have no site named no-such-site");
  // status in a linked project shows the site without flags.
  const status = await c().sprout(["status", "--json"], {}, dir);
  expect(json(status.stdout)).toMatchObject({ site: { name: "linked-site" }, project: { site: "linked-site", publish: "dist" } });
});

test("sprout open prints the production URL or a deployment's preview URL, and opens nothing without a display", async () => {
  const dir = site({ "index.html": "open me" });
  const d = json((await c().sprout(["deploy", dir, "--site", "open-site", "--prod", "--json"])).stdout);
  const noDisplay = { DISPLAY: "", WAYLAND_DISPLAY: "" };
  const prod = await c().sprout(["open", "--site", "open-site"], noDisplay);
  expect(prod.code).toBe(0);
  expect(prod.stdout).toBe(`${d.url}\n`);
  const preview = await c().sprout(["open", "--site", "open-site", "--preview", d.deployment_id, "--json"], noDisplay);
  expect(json(preview.stdout)).toEqual({ url: d.preview_url, opened: false });
  expect(d.preview_url).toContain(`${d.deployment_id}--open-site`);
});

test("sprout logs prints a deployment's log, and --follow returns once it is ready", async () => {
  const dir = site({ "index.html": "logs" });
  const d = json((await c().sprout(["deploy", dir, "--site", "logs-site", "--prod", "--json"])).stdout);
  const r = await c().sprout(["logs", d.deployment_id]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Deployment created: 1 files");
  expect(r.stdout).toMatch(/\[node1\]/);
  const followed = await c().sprout(["logs", "--site", "logs-site", "--follow", "--json"]);
  expect(followed.code).toBe(0);
  const info = json(followed.stdout);
  expect(info.id).toBe(d.deployment_id);
  expect(info.events.length).toBeGreaterThan(2);
  const missing = await c().sprout(["logs", "zzzzzzzzzzzzzz"]);
  expect(missing.code).toBe(1);
});

test("every list command answers --json, and deploy --json prints nothing but its JSON on stdout", async () => {
  const dir = site({ "index.html": "json", ".env": "SECRET=1" });
  const d = await c().sprout(["deploy", dir, "--site", "json-site", "--prod", "--json"]);
  expect(() => json(d.stdout)).not.toThrow();
  expect(d.stdout.trim().startsWith("{") && d.stdout.trim().endsWith("}")).toBe(true);
  expect(d.stderr).toContain("Left out 1 file");
  expect(d.stderr).toContain("Uploading");
  for (const args of [["sites"], ["deployments", "--site", "json-site"], ["tokens"], ["users"], ["agents"], ["profiles"], ["status", "--site", "json-site"], ["whoami"], ["domains"], ["audit"], ["stats", "json-site"]]) {
    const r = await c().sprout([...args, "--json"]);
    expect(r.code).toBe(0);
    expect(() => json(r.stdout)).not.toThrow();
  }
});

test("sprout login keeps one profile per master; --profile and SPROUT_PROFILE choose, and logout forgets one", async () => {
  const config = tempDir("sprout-config-");
  const sprout = as(config);
  const other = await cluster({ agents: 0 });
  try {
    const a = await sprout(["login", "--master", c().master, "--email", c().admin.email, "--password", c().admin.password]);
    expect(a.code).toBe(0);
    const port = new URL(c().master).port;
    expect(a.stderr).toContain(`profile 127.0.0.1-${port}, the default`);
    const b = await sprout(["login", "--master", other.master, "--email", other.admin.email, "--password", other.admin.password, "--profile", "second"]);
    expect(b.code).toBe(0);
    expect(b.stderr).toContain("profile second; use it with --profile second");
    const list = json((await sprout(["profiles", "--json"])).stdout);
    expect(list).toEqual([
      { name: `127.0.0.1-${port}`, master: c().master, email: c().admin.email, current: true },
      { name: "second", master: other.master, email: other.admin.email, current: false },
    ]);
    expect(JSON.stringify(list)).not.toContain("token");
    expect(json((await sprout(["whoami", "--json"])).stdout).master).toBe(c().master);
    expect(json((await sprout(["whoami", "--json", "--profile", "second"])).stdout).master).toBe(other.master);
    expect(json((await sprout(["whoami", "--json"], undefined, { SPROUT_PROFILE: "second" })).stdout).master).toBe(other.master);
    const unknown = await sprout(["whoami", "--profile", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`There is no profile "nope".`);
    expect(unknown.stderr).toContain(`Profiles here: 127.0.0.1-${port}, second`);
    expect((await sprout(["logout", "--profile", "second"])).stderr).toContain(`Logged out of ${other.master} (profile second)`);
    expect(json((await sprout(["profiles", "--json"])).stdout)).toHaveLength(1);
    expect((await sprout(["whoami"])).code).toBe(0);
  } finally {
    await other.stop();
  }
});

test("credentials.json of one login from an earlier version is read as profile default", async () => {
  const config = tempDir("sprout-config-");
  const login = await api(c().master, "POST", "/api/user/token", { email: c().admin.email, password: c().admin.password });
  writeFileSync(join(config, "credentials.json"), JSON.stringify({ master: c().master, email: c().admin.email, access_token: login.body.access_token, refresh_token: login.body.refresh_token }), { mode: 0o600 });
  const r = await as(config)(["whoami", "--json"]);
  expect(r.code).toBe(0);
  expect(json(r.stdout).profile).toBe("default");
});

test("a master URL without a scheme is completed, and one with another scheme is named", async () => {
  const config = tempDir("sprout-config-");
  const hostPort = c().master.replace("http://", "");
  const r = await as(config)(["login", "--master", hostPort, "--email", c().admin.email, "--password", c().admin.password]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`Using ${c().master}`);
  const ftp = await as(config)(["login", "--master", "ftp://sprout.example.com", "--email", "a@example.com", "--password", "whatever1"]);
  expect(ftp.code).toBe(1);
  expect(ftp.stderr).toContain(`--master "ftp://sprout.example.com" uses ftp://; the master speaks http:// or https://`);
  const env = await c().sprout(["sites"], { SPROUT_MASTER: hostPort });
  expect(env.code).toBe(0);
});

test("validation errors say what to fix in plain words, never TypeBox's wording or a pattern", async () => {
  const r = await c().sprout(["users", "invite", "short@example.com", "--password", "short"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("password: at least 8 characters");
  const site = await c().sprout(["sites", "create", "Not_A_Name"]);
  expect(site.stderr).toContain("name: site name must be 1-63 lower-case letters");
  const replicas = await api(c().master, "POST", "/api/site", { name: "okname", replicas: 99, spa: "yes" }, c().admin.token);
  expect(replicas.body.error.message).toBe("Invalid request: spa: must be true or false; replicas: replicas must be a whole number from 1 to 16.");
  for (const m of [r.stderr, site.stderr, replicas.body.error.message]) {
    expect(m).not.toContain("Expected");
    expect(m).not.toContain("^(");
  }
});

test("unknown commands, subcommands and flags suggest the closest one and exit 2", async () => {
  const cmd = await c().sprout(["deplyo"]);
  expect(cmd.code).toBe(2);
  expect(cmd.stderr).toContain("Did you mean `sprout deploy`?");
  const flag = await c().sprout(["deploy", "--prdo"]);
  expect(flag.code).toBe(2);
  expect(flag.stderr).toContain("unknown option --prdo. Did you mean --prod?");
  const sub = await c().sprout(["tokens", "revok", "x"]);
  expect(sub.code).toBe(2);
  expect(sub.stderr).toContain("Did you mean `sprout tokens revoke`?");
  const far = await c().sprout(["frobnicate"]);
  expect(far.code).toBe(2);
  expect(far.stderr).not.toContain("Did you mean");
});

/** bashComplete asks the generated bash completion what it offers for a command line. */
async function bashComplete(script: string, line: string): Promise<string[]> {
  const words = line.split(" ");
  const file = join(tempDir("sprout-completion-"), "sprout.bash");
  writeFileSync(file, script);
  const p = Bun.spawn(["bash", "-c", `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _sprout; printf '%s\\n' "\${COMPREPLY[@]}"`], { stdout: "pipe", stderr: "pipe" });
  return (await new Response(p.stdout).text()).split("\n").filter(Boolean);
}

test("sprout completion bash completes commands, subcommands, flags and flag values from the command definitions", async () => {
  const r = await c().sprout(["completion", "bash"]);
  expect(r.code).toBe(0);
  expect(await bashComplete(r.stdout, "sprout dep")).toEqual(["deploy", "deployments"]);
  expect(await bashComplete(r.stdout, "sprout deploy --p")).toEqual(["--prod", "--profile"]);
  expect(await bashComplete(r.stdout, "sprout sites c")).toEqual(["create"]);
  expect(await bashComplete(r.stdout, "sprout completion z")).toEqual(["zsh"]);
  expect(await bashComplete(r.stdout, "sprout logs --f")).toEqual(["--follow"]);
  const bad = await c().sprout(["completion", "tcsh"]);
  expect(bad.code).toBe(2);
});

test.skipIf(!Bun.which("fish"))("sprout completion fish completes commands and flags in fish", async () => {
  const r = await c().sprout(["completion", "fish"]);
  const file = join(tempDir("sprout-completion-"), "sprout.fish");
  writeFileSync(file, r.stdout);
  const ask = async (line: string) => {
    const p = Bun.spawn(["fish", "--no-config", "-c", `source ${file}; complete -C '${line}'`], { stdout: "pipe", stderr: "pipe" });
    return (await new Response(p.stdout).text()).split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
  };
  expect(await ask("sprout statu")).toEqual(["status"]);
  expect(await ask("sprout deploy --mes")).toEqual(["--message"]);
});

test.skipIf(!Bun.which("zsh"))("sprout completion zsh is a valid zsh completion function", async () => {
  const r = await c().sprout(["completion", "zsh"]);
  expect(r.stdout.startsWith("#compdef sprout")).toBe(true);
  const file = join(tempDir("sprout-completion-"), "_sprout");
  writeFileSync(file, r.stdout);
  const p = Bun.spawnSync(["zsh", "-n", file]);
  expect(p.exitCode).toBe(0);
  // Loaded in an interactive zsh with compinit, it registers itself for `sprout`.
  const loaded = Bun.spawnSync(["zsh", "-f", "-c", `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[sprout]`], { stderr: "pipe" });
  expect(loaded.stdout.toString().trim()).toBe("_sprout");
});

test("six CLIs sharing one login with an expired access token all succeed, and the login still works after", async () => {
  const short = await cluster({ agents: 0, masterArgs: ["--access-ttl", "2"] });
  try {
    const config = tempDir("sprout-config-");
    const run = (args: string[]) =>
      Bun.spawn([sproutBinary(), ...args], { env: { ...process.env, SPROUT_CONFIG_DIR: config, SPROUT_TOKEN: "", SPROUT_MASTER: "", SPROUT_PROFILE: "" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const login = run(["login", "--master", short.master, "--email", short.admin.email, "--password", short.admin.password]);
    expect(await login.exited).toBe(0);
    const before = json(readFileSync(join(config, "credentials.json"), "utf8"));
    await Bun.sleep(3000);
    const procs = Array.from({ length: 6 }, (_, i) => run(i % 2 ? ["whoami", "--json"] : ["sites", "--json"]));
    const results = await Promise.all(procs.map(async (p) => ({ code: await p.exited, stderr: await new Response(p.stderr).text() })));
    for (const r of results) expect(r).toEqual({ code: 0, stderr: "" });
    const after = json(readFileSync(join(config, "credentials.json"), "utf8"));
    const name = before.current;
    expect(after.profiles[name].refresh_token).not.toBe(before.profiles[name].refresh_token);
    expect(existsSync(join(config, "credentials.json.lock"))).toBe(false);
    // No token was presented twice: the login is alive, and refreshes again later.
    await Bun.sleep(2500);
    const later = run(["whoami"]);
    expect(await later.exited).toBe(0);
  } finally {
    await short.stop();
  }
}, 120_000);
