#!/usr/bin/env bash
# Installs buildd-agent from the npm registry into a folder you own (no sudo), links the command into
# ~/.local/bin, and says what it did:
#
#   curl -fsSL https://<your buildd server>/install-agent.sh | bash
#
# Settings (environment variables; all optional):
#   BUILDD_AGENT_PACKAGE  what npm installs: @buildd/agent (default), @buildd/agent@0.1.0, or a tarball path/URL
#   BUILDD_NPM_REGISTRY   the npm registry to install from (default: npm's own setting)
#   BUILDD_PREFIX         where the package goes (default ~/.local/share/buildd-agent)
#   BUILDD_BIN_DIR        where the buildd-agent command is linked (default ~/.local/bin)
set -euo pipefail

package="${BUILDD_AGENT_PACKAGE:-@buildd/agent}"
prefix="${BUILDD_PREFIX:-${XDG_DATA_HOME:-$HOME/.local/share}/buildd-agent}"
bin_dir="${BUILDD_BIN_DIR:-$HOME/.local/bin}"
min_major=20
min_minor=11

say() { printf 'install-agent: %s\n' "$*"; }
fail() {
  printf 'install-agent: %s\n' "$*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 ||
  fail "Node.js is not installed (buildd-agent needs Node.js ${min_major}.${min_minor} or newer): see https://nodejs.org or use your package manager, then run this again."
node_version="$(node -p 'process.versions.node')"
IFS=. read -r major minor _ <<<"$node_version"
if ((major < min_major || (major == min_major && minor < min_minor))); then
  fail "Node.js $node_version is too old: buildd-agent needs Node.js ${min_major}.${min_minor} or newer. Upgrade Node.js, then run this again."
fi
command -v npm >/dev/null 2>&1 || fail "npm is not installed (it comes with Node.js); install it, then run this again."
command -v git >/dev/null 2>&1 ||
  fail "git is not installed: buildd-agent runs every task in a git worktree. Install git (e.g. apt-get install git), then run this again."

registry_args=()
if [[ -n "${BUILDD_NPM_REGISTRY:-}" ]]; then registry_args=(--registry "$BUILDD_NPM_REGISTRY"); fi
# --prefix would also move npm's global config file into the new prefix, losing the machine's own settings
# (a proxy's CA file, a registry mirror): keep reading the one npm reads without it.
globalconfig="$(npm config get globalconfig 2>/dev/null || true)"
if [[ -n "$globalconfig" && -f "$globalconfig" ]]; then registry_args+=(--globalconfig "$globalconfig"); fi

say "installing $package into $prefix (Node.js $node_version, $(git --version))"
mkdir -p "$prefix" "$bin_dir"
npm install --global --prefix "$prefix" --no-audit --no-fund --update-notifier=false --loglevel=error ${registry_args[@]+"${registry_args[@]}"} "$package"
[[ -x "$prefix/bin/buildd-agent" ]] || fail "npm installed $package, but it has no buildd-agent command in $prefix/bin."
ln -sf "$prefix/bin/buildd-agent" "$bin_dir/buildd-agent"
version="$("$bin_dir/buildd-agent" --version)"

say "installed buildd-agent $version: $bin_dir/buildd-agent -> $prefix/bin/buildd-agent"
# In a GitHub Actions job, later steps find the command on their PATH.
if [[ -n "${GITHUB_PATH:-}" ]]; then
  echo "$bin_dir" >>"$GITHUB_PATH"
  say "added $bin_dir to the job's PATH (GITHUB_PATH)"
fi
case ":$PATH:" in
*":$bin_dir:"*) ;;
*) say "$bin_dir is not on your PATH: add it with  export PATH=\"$bin_dir:\$PATH\"" ;;
esac
if ! command -v bwrap >/dev/null 2>&1; then
  say "note: bubblewrap (bwrap) is not installed; sandboxed runs need it (e.g. apt-get install bubblewrap)"
fi
say "next: BUILDD_SERVER=… BUILDD_API_KEY=… ANTHROPIC_API_KEY=… buildd-agent --max-tasks=1  (buildd-agent --help for more)"
