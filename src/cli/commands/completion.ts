import { UsageError, unknownSubcommand, type Command, type OptionSpec } from "../../shared/command";
import { action } from "../action";

/** What an option's value completes to: its choices, folders, files, or nothing (free text). */
function valueKind(o: OptionSpec): { choices: string[] } | "dir" | "file" | "none" {
  if (o.choices) return { choices: o.choices };
  if (o.value === "DIR") return "dir";
  if (o.value === "PATH") return "file";
  return "none";
}

const flagsOf = (c: Command) => [...Object.entries(c.options), ["help", { type: "boolean", short: "h", description: "Show this help" } as OptionSpec] as const];

/** bashScript is `sprout completion bash`: one function that completes commands, subcommands, flags and their values. */
export function bashScript(commands: Command[]): string {
  const cases = commands.map((c) => {
    const flags = flagsOf(c).flatMap(([k, o]) => [`--${k}`, ...(o.short ? [`-${o.short}`] : [])]);
    const values = flagsOf(c)
      .filter(([, o]) => o.type === "string")
      .map(([k, o]) => {
        const kind = valueKind(o);
        const pat = [`--${k}`, ...(o.short ? [`-${o.short}`] : [])].join("|");
        const reply = typeof kind === "object" ? `COMPREPLY=( $(compgen -W "${kind.choices.join(" ")}" -- "$cur") )` : kind === "dir" ? `COMPREPLY=( $(compgen -d -- "$cur") )` : kind === "file" ? `COMPREPLY=( $(compgen -f -- "$cur") )` : "COMPREPLY=()";
        return `        ${pat}) ${reply}; return ;;`;
      });
    const positional = c.subcommands?.length
      ? `      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${c.subcommands.join(" ")}" -- "$cur") ); fi`
      : c.args === "dir" ? `      COMPREPLY=( $(compgen -d -- "$cur") )` : "      COMPREPLY=()";
    return [
      `    ${c.name})`,
      ...(values.length ? ["      case \"$prev\" in", ...values, "      esac"] : []),
      `      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${flags.join(" ")}" -- "$cur") ); return; fi`,
      positional,
      "      ;;",
    ].join("\n");
  });
  return `# sprout completion for bash. Load it with:  source <(sprout completion bash)
# or keep it:  sprout completion bash > ~/.local/share/bash-completion/completions/sprout
_sprout() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map((c) => c.name).join(" ")} help --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
    help)
      COMPREPLY=( $(compgen -W "${commands.map((c) => c.name).join(" ")}" -- "$cur") )
      ;;
  esac
}
complete -F _sprout sprout
`;
}

/** zq quotes text for a zsh single-quoted word, and brackets/colons for _arguments specs. */
const zq = (s: string) => s.replace(/'/g, "'\\''").replace(/([\[\]:])/g, "\\$1");

/** zshScript is `sprout completion zsh`: a #compdef function using _arguments, with descriptions. */
export function zshScript(commands: Command[]): string {
  const list = commands.map((c) => `    '${c.name}:${zq(c.summary)}'`).join("\n");
  const cases = commands.map((c) => {
    const specs = flagsOf(c).flatMap(([k, o]) => {
      const kind = valueKind(o);
      const val = o.type === "boolean" ? "" : `:${zq(o.value ?? "VALUE")}:${typeof kind === "object" ? `(${kind.choices.join(" ")})` : kind === "dir" ? "_files -/" : kind === "file" ? "_files" : " "}`;
      const desc = `[${zq(o.description)}]`;
      return [`'--${k}${desc}${val}'`, ...(o.short ? [`'-${o.short}${desc}${val}'`] : [])];
    });
    const pos = c.subcommands?.length ? [`'1:subcommand:(${c.subcommands.join(" ")})'`, `'*:argument: '`] : c.args === "dir" ? [`'1:folder:_files -/'`] : [`'*:argument: '`];
    return `    ${c.name})\n      _arguments -s \\\n        ${[...specs, ...pos].join(" \\\n        ")}\n      ;;`;
  });
  return `#compdef sprout
# sprout completion for zsh. Load it with:  source <(sprout completion zsh)
# or keep it as _sprout in a folder of your $fpath.
_sprout() {
  local -a commands
  commands=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'sprout command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join("\n")}
  esac
}
if [ "$funcstack[1]" = "_sprout" ]; then
  _sprout "$@"
else
  compdef _sprout sprout
fi
`;
}

const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** fishScript is `sprout completion fish`: `complete` lines per command and flag. */
export function fishScript(commands: Command[]): string {
  const lines = [
    "# sprout completion for fish. Load it with:  sprout completion fish | source",
    "# or keep it:  sprout completion fish > ~/.config/fish/completions/sprout.fish",
    "complete -c sprout -f",
    ...commands.map((c) => `complete -c sprout -n __fish_use_subcommand -a ${c.name} -d ${fq(c.summary)}`),
  ];
  for (const c of commands) {
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const [k, o] of flagsOf(c)) {
      const kind = valueKind(o);
      const value = o.type === "boolean" ? "" : typeof kind === "object" ? ` -x -a ${fq(kind.choices.join(" "))}` : kind === "dir" ? " -x -a '(__fish_complete_directories)'" : kind === "file" ? " -r -F" : " -x";
      lines.push(`complete -c sprout ${when} -l ${k}${o.short ? ` -s ${o.short}` : ""}${value} -d ${fq(o.description)}`);
    }
    if (c.subcommands?.length) lines.push(`complete -c sprout ${when} -a ${fq(c.subcommands.join(" "))}`);
    else if (c.args === "dir") lines.push(`complete -c sprout ${when} -a '(__fish_complete_directories)'`);
  }
  return `${lines.join("\n")}\n`;
}

/** completionCommand is `sprout completion SHELL`, generated from the commands' declarations. */
export function completionCommand(commands: () => Command[]): Command {
  const cmd: Command = {
    name: "completion",
    group: "shell",
    summary: "Print the shell completion script for bash, zsh or fish",
    usage: "completion bash|zsh|fish",
    options: {},
    subcommands: ["bash", "zsh", "fish"],
    examples: ["source <(sprout completion bash)        # in ~/.bashrc", "source <(sprout completion zsh)         # in ~/.zshrc", "sprout completion fish | source         # in ~/.config/fish/config.fish"],
    run: action(async (_v, pos) => {
      const shell = pos[0];
      if (!shell) throw new UsageError("name a shell: bash, zsh or fish");
      const make = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
      if (!make) throw unknownSubcommand(cmd, shell);
      process.stdout.write(make(commands()));
    }),
  };
  return cmd;
}
