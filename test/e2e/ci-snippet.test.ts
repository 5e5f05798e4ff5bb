// The CI snippets of the README, run as written: test/fixtures/ci/*.yml are the snippets, the README
// shows them verbatim (checked below). Each `run:`/`script:` command runs in bash against a real
// master, agent and nginx, with the CI's expressions and variables filled in as the runner would.
import { expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, sproutBinary, tempDir, useCluster } from "../helpers/cluster";

const c = useCluster({ agents: 1 });
const CI = join(import.meta.dir, "..", "fixtures", "ci");
const SNIPPETS = { github: readFileSync(join(CI, "github-actions.yml"), "utf8"), gitlab: readFileSync(join(CI, "gitlab-ci.yml"), "utf8") };

/** ci prepares what a CI job has: a checkout of the project, a deploy token, and the binary at a URL. */
async function ci() {
  const workspace = tempDir("sprout-ci-");
  cpSync(join(CI, "project"), workspace, { recursive: true });
  const token = await c().sprout(["tokens", "create", "github-actions"]);
  expect(token.code).toBe(0);
  const bin = readFileSync(sproutBinary());
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(bin) });
  // The test machine's npm needs no network for a project without dependencies.
  const base = { PATH: process.env.PATH!, HOME: workspace, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", SPROUT_CONFIG_DIR: join(workspace, ".cfg"), SPROUT_CACHE_DIR: join(workspace, ".cache") };
  return { workspace, token: token.stdout.trim(), binaryUrl: `http://127.0.0.1:${server.port}/sprout`, base, stop: () => server.stop(true) };
}

async function bash(script: string, cwd: string, env: Record<string, string>) {
  const p = Bun.spawn(["bash", "-e", "-c", script], { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

async function expectLive(message: string) {
  const r = await c().get(`my-site.${c().domain}`, "/");
  expect(await r.text()).toContain("Built in CI");
  const list = await api(c().master, "GET", "/api/site/my-site/deployments", undefined, c().admin.token);
  expect(list.body[0]).toMatchObject({ is_production: true, message });
}

test("the GitHub Actions snippet deploys the built site to production with the commit's message", async () => {
  const job = await ci();
  try {
    const expressions: Record<string, string> = {
      "vars.SPROUT_MASTER": c().master,
      "secrets.SPROUT_TOKEN": job.token,
      "vars.SPROUT_BINARY_URL": job.binaryUrl,
      "github.event.head_commit.message": "Add the pricing page",
    };
    // Every ${{ }} of the snippet must be one we fill in: nothing untested slips in.
    const fill = (s: string) => s.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, e: string) => expressions[e] ?? (() => { throw new Error(`unknown expression ${e}`); })());
    const workflow = Bun.YAML.parse(SNIPPETS.github) as { jobs: { deploy: { steps: { uses?: string; run?: string; env?: Record<string, string> }[] } } };
    const summary = join(job.workspace, "summary.md");
    writeFileSync(summary, "");
    let ran = 0;
    for (const step of workflow.jobs.deploy.steps) {
      if (step.uses) continue; // checkout and setup-node: the workspace and node are here already
      const env = { ...job.base, GITHUB_STEP_SUMMARY: summary, ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, fill(v)])) };
      const r = await bash(fill(step.run!), job.workspace, env);
      if (r.code !== 0) throw new Error(`step failed:\n${step.run}\n${r.stdout}\n${r.stderr}`);
      ran++;
    }
    expect(ran).toBe(2);
    expect(readFileSync(summary, "utf8")).toMatch(new RegExp(`^Live at http://my-site\\.${c().domain.replace(".", "\\.")}\\S* \\(deployment [a-z0-9]+\\)\\n$`));
    await expectLive("Add the pricing page");
  } finally {
    job.stop();
  }
});

test("the GitLab CI snippet deploys the built site to production with the commit's title", async () => {
  const job = await ci();
  try {
    const pipeline = Bun.YAML.parse(SNIPPETS.gitlab) as { deploy: { variables: Record<string, string>; script: string[] } };
    // CI/CD variables of the project, and the ones GitLab predefines.
    const env: Record<string, string> = { ...job.base, SPROUT_MASTER: c().master, SPROUT_TOKEN: job.token, SPROUT_BINARY_URL: job.binaryUrl, CI_COMMIT_TITLE: "Fix the footer" };
    for (const [k, v] of Object.entries(pipeline.deploy.variables)) env[k] = v.replace(/\$(\w+)/g, (_, n: string) => env[n] ?? "");
    let out = "";
    for (const line of pipeline.deploy.script) {
      const r = await bash(line, job.workspace, env);
      if (r.code !== 0) throw new Error(`script line failed:\n${line}\n${r.stdout}\n${r.stderr}`);
      out += r.stdout;
    }
    expect(out).toContain(`Live at http://my-site.${c().domain}`);
    await expectLive("Fix the footer");
  } finally {
    job.stop();
  }
});

test("the README's CI snippets are the tested ones", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes("sprout deploy"));
  for (const b of blocks) expect(Object.values(SNIPPETS)).toContain(b);
});
