// The container files (Dockerfile, compose.yaml, Kubernetes manifests) are checked here without a
// container engine: they parse, they run as non-root, and every sprout flag they pass exists.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands";

const ROOT = join(import.meta.dir, "..", "..");
const read = (f: string) => readFileSync(join(ROOT, f), "utf8");

/** sproutArgs finds sprout command lines (arrays or `sprout ...` in a shell string) and checks each flag exists. */
function checkArgs(args: string[]) {
  const words = args.length === 3 && args[0] === "sh" ? args[2]!.replace(/^exec /, "").split(/\s+/).slice(1) : args;
  const cmd = COMMANDS.find((c) => c.name === words[0]);
  expect(cmd).toBeDefined();
  for (const w of words.filter((x) => x.startsWith("--"))) expect(Object.keys(cmd!.options)).toContain(w.slice(2));
}

describe("containers", () => {
  test("the Dockerfile builds from Debian and npm only and runs as a non-root user", () => {
    const d = read("Dockerfile");
    const known = new Set(["FROM", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "ENV", "ARG"]);
    for (const line of d.split("\n").filter((l) => /^[A-Z]+ /.test(l))) expect(known.has(line.split(" ")[0]!)).toBe(true);
    expect(d.match(/^FROM (\S+)/gm)!.every((f) => f.includes("debian:"))).toBe(true);
    expect(d).toMatch(/^USER sprout$/m);
    expect(d).toContain("COPY --from=build /src/dist/sprout /usr/local/bin/sprout");
  });

  test("compose.yaml parses and passes only flags sprout knows", () => {
    const c = Bun.YAML.parse(read("compose.yaml")) as { services: Record<string, { command: string[] }> };
    expect(Object.keys(c.services).sort()).toEqual(["agent", "master"]);
    for (const s of Object.values(c.services)) checkArgs(s.command);
  });

  test("the Kubernetes manifests parse, run as non-root with probes, and pass only flags sprout knows", () => {
    const docs = Bun.YAML.parse(read("deploy/kubernetes/sprout.yaml")) as any[];
    const kinds = docs.map((d) => d.kind);
    expect(kinds.filter((k) => k === "StatefulSet").length).toBe(2);
    for (const d of docs.filter((x) => x.kind === "StatefulSet")) {
      const spec = d.spec.template.spec;
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      for (const c of spec.containers) {
        expect(c.readinessProbe.httpGet.path).toBe("/readyz");
        checkArgs(c.args ?? c.command);
        // Secrets come from Secrets, never inline.
        for (const e of c.env ?? []) if (/TOKEN|PASSWORD/.test(e.name)) expect(e.valueFrom.secretKeyRef).toBeDefined();
      }
    }
  });
});
