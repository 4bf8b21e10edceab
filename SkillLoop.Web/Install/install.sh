#!/bin/sh
# SkillLoop client installer, served by the SkillLoop server at @URL@ (GET /install.sh).
#
#   curl -fsSL @URL@/install.sh | sh -s -- --token <ingest token> [--agents claude,copilot] [--bin DIR]
#
# Downloads the skillloop-client binary for this machine from that server only (nothing else is contacted), checks
# its SHA-256 against the server's manifest, puts it in --bin (default ~/.local/bin) and installs the SkillLoop hook
# into every agent found under the home directory, or into the agents named with --agents.
set -eu

url='@URL@'
version='@VERSION@'
token=${SKILLLOOP_TOKEN:-}
agents=''
bin=''

fail() {
  printf 'skillloop install: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<USAGE
usage: curl -fsSL $url/install.sh | sh -s -- --token TOKEN [--agents claude,copilot,...] [--bin DIR] [--url URL]
  --token   the ingest token (Settings -> Ingest tokens on $url); or set SKILLLOOP_TOKEN
  --agents  agents to hook, comma-separated: claude, copilot, vscode, codex, cursor, cline
            (default: every agent found under \$HOME)
  --bin     where skillloop-client goes (default: ~/.local/bin)
  --url     the server the client reports to (default: $url)
USAGE
}

need_value() {
  [ "$2" -ge 2 ] || fail "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --token) need_value "$1" $#; token=$2; shift 2 ;;
    --token=*) token=${1#*=}; shift ;;
    --agents) need_value "$1" $#; agents=$2; shift 2 ;;
    --agents=*) agents=${1#*=}; shift ;;
    --bin) need_value "$1" $#; bin=$2; shift 2 ;;
    --bin=*) bin=${1#*=}; shift ;;
    --url) need_value "$1" $#; url=${2%/}; shift 2 ;;
    --url=*) url=${1#*=}; url=${url%/}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option: $1 (see --help)" ;;
  esac
done

[ -n "$token" ] || fail "--token is required: make an ingest token in Settings -> Ingest tokens on $url"
if [ -z "$bin" ]; then
  [ -n "${HOME:-}" ] || fail "HOME is not set: give --bin DIR"
  bin=$HOME/.local/bin
fi

os=$(uname -s)
arch=$(uname -m)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=osx ;;
  MINGW*|MSYS*|CYGWIN*) fail "on Windows, run in PowerShell: & ([scriptblock]::Create((irm $url/install.ps1))) -Token <token>" ;;
  *) fail "no skillloop-client for $os" ;;
esac
case "$arch" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "no skillloop-client for the $arch processor" ;;
esac
# A shell translated by Rosetta reports x86_64 on Apple silicon: the native build is the right one there.
if [ "$os" = osx ] && [ "$arch" = x64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
  arch=arm64
fi
platform=$os-$arch

# From the server's manifest (build/clients.sh), as it was when this script was served.
case "$platform" in
@PLATFORMS@
  *) fail "the server at $url has no skillloop-client for $platform (it has: @AVAILABLE@)" ;;
esac

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "needs curl or wget to download $1"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else
    fail "needs sha256sum, shasum or openssl to check the download"
  fi
}

mkdir -p "$bin" || fail "cannot create $bin"
# Downloaded beside its final place, so the move into place is atomic and a failed download leaves nothing behind.
tmp=$(mktemp "$bin/.skillloop-client.XXXXXX") || fail "cannot write to $bin"
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
echo "skillloop install: downloading skillloop-client $version for $platform from $url"
download "$url/client/$file" "$tmp" || fail "download of $url/client/$file failed"
actual=$(sha256_of "$tmp")
if [ "$actual" != "$sha256" ]; then
  fail "checksum mismatch for $url/client/$file: expected $sha256 (server manifest), got $actual. The binary was changed after it was built or in transit; nothing was installed."
fi
chmod 755 "$tmp"
mv -f "$tmp" "$bin/skillloop-client"
trap - EXIT
client=$bin/skillloop-client
echo "skillloop install: checksum verified; installed $client"

# macOS refuses to run an arm64 binary without a signature: sign it ad hoc if it carries none.
if [ "$os" = osx ] && command -v codesign >/dev/null 2>&1 && ! codesign -v "$client" >/dev/null 2>&1; then
  codesign -s - -f "$client" >/dev/null 2>&1 || echo "skillloop install: could not sign $client ad hoc (codesign failed)" >&2
fi

if [ -n "$agents" ]; then
  "$client" install --agents "$agents" --url "$url" --token "$token"
else
  "$client" install --all --url "$url" --token "$token"
fi

case ":${PATH:-}:" in
  *":$bin:"*) ;;
  *) echo "skillloop install: $bin is not on your PATH; add it to run skillloop-client yourself: export PATH=\"$bin:\$PATH\"" ;;
esac
