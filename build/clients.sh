#!/usr/bin/env bash
# Builds the skillloop-client binaries the server hands out (GET /install.sh, GET /client/...) into OUT_DIR, with
# OUT_DIR/manifest.json (file, platform, SHA-256, size, client version). build/image.sh runs it into the image's
# app/clients; a server run from source serves them with SKILLLOOP_CLIENTS=OUT_DIR.
#
# linux-x64 is Native AOT (the supported way to build it: on a linux-x64 host), and so is linux-arm64 where an arm64
# cross toolchain is installed (clang and lld, and Debian's arm64 cross libraries: the Dockerfile installs
# gcc-aarch64-linux-gnu and libc6-dev-arm64-cross for them). Native AOT cannot cross-compile to macOS or Windows from
# Linux, so those (and linux-arm64 without the toolchain, with a line saying so) are self-contained, trimmed
# single-file builds: no .NET needed on the laptop either way. Those are ReadyToRun (precompiled, so the hook does not
# wait for the JIT) and not compressed (every start would inflate them first): measured on linux-x64 built the same
# way, the hook returns in 80-100 ms and `--version` in 58-66 ms, against 196-221 and 115-126 ms compressed and
# JIT-compiled, for files of ~30 MB instead of ~14 MB. Only Native AOT reaches issue #17's 15 ms (12 ms here), and for
# macOS and Windows it needs their own linkers.
#
# usage: build/clients.sh OUT_DIR [RID...]   (default: every platform below; SKILLLOOP_CLIENT_RIDS overrides it)
# SKILLLOOP_CLIENT_SINGLE_FILE=1 builds every platform as a single file, Native AOT ones too: the benchmarks time on
# this host the kind of client macOS and Windows users get.
set -euo pipefail
out=${1:?usage: build/clients.sh OUT_DIR [RID...]}
shift
cd "$(dirname "$0")/.."
all="linux-x64 linux-arm64 osx-arm64 osx-x64 win-x64"
if [ $# -gt 0 ]; then rids="$*"; else rids=${SKILLLOOP_CLIENT_RIDS:-$all}; fi
single_file_only=${SKILLLOOP_CLIENT_SINGLE_FILE:-0}
version=$(sed -n 's/.*public const string Version = "\([^"]*\)";.*/\1/p' SkillLoop.Hooks/Hook/SignalWorker.cs)
[ -n "$version" ] || { echo "build/clients.sh: client version not found in SignalWorker.cs" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Its own intermediate folders: a publish of the same project and platform elsewhere (the test suite's client, a
# developer's build) must not share obj/ with this one; two ILC runs on one obj/ folder crash each other.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The folder holding clang and ld.lld that can link an arm64 Native AOT client, or nothing. Debian's cross layout:
# the arm64 C library under /usr/aarch64-linux-gnu, the compiler's start files under /usr/lib/gcc-cross (clang finds
# both from --target alone, with no --sysroot).
arm64_toolchain() {
  [ -e /usr/aarch64-linux-gnu/lib/crt1.o ] || return 1 # libc6-dev-arm64-cross (only recommended by the cross gcc)
  compgen -G '/usr/lib/gcc-cross/aarch64-linux-gnu/*/crtbeginS.o' > /dev/null || return 1
  local dir
  for dir in "$(dirname "$(command -v clang 2>/dev/null || echo /nonexistent/clang)")" $(ls -d /usr/lib/llvm-*/bin 2>/dev/null | sort -rV); do
    if [ -x "$dir/clang" ] && [ -x "$dir/ld.lld" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

entries=()
for rid in $rids; do
  path=$PATH
  case "$rid" in
    linux-x64|linux-arm64|osx-arm64|osx-x64|win-x64) ;;
    *) echo "build/clients.sh: unknown platform $rid (known: $all)" >&2; exit 1 ;;
  esac
  if [ "$single_file_only" = 1 ]; then
    build=single-file
  elif [ "$rid" = linux-x64 ]; then
    build=native-aot
    props=(-p:PublishAot=true)
  elif [ "$rid" = linux-arm64 ] && toolchain=$(arm64_toolchain); then
    build=native-aot
    props=(-p:PublishAot=true -p:CppCompilerAndLinker=clang -p:LinkerFlavor=lld)
    path="$toolchain:$PATH"
  else
    if [ "$rid" = linux-arm64 ]; then
      echo "build/clients.sh: no arm64 cross toolchain (clang, lld, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross): linux-arm64 is a single file, not Native AOT" >&2
    fi
    build=single-file
  fi
  if [ "$build" = single-file ]; then
    props=(-p:PublishAot=false --self-contained -p:PublishSingleFile=true -p:PublishTrimmed=true -p:PublishReadyToRun=true
           -p:EnableCompressionInSingleFile=false -p:IncludeNativeLibrariesForSelfExtract=true)
  fi
  name=skillloop-client
  [ "${rid%%-*}" = win ] && name=skillloop-client.exe
  rm -rf "${out:?}/$rid"
  PATH=$path dotnet publish SkillLoop.Hooks -c Release -r "$rid" -o "$out/$rid" --artifacts-path "$work" --nologo -v quiet -p:DebugType=none "${props[@]}"
  # Only the executable is handed out: anything else beside it (symbols, a stray .dbg) is dead weight.
  find "$out/$rid" -mindepth 1 ! -name "$name" -exec rm -rf {} +
  [ -f "$out/$rid/$name" ] || { echo "build/clients.sh: $rid/$name was not built" >&2; exit 1; }
  sha=$(sha256sum "$out/$rid/$name" | cut -d' ' -f1)
  size=$(wc -c < "$out/$rid/$name" | tr -d ' ')
  entries+=("    {\"platform\": \"$rid\", \"file\": \"$rid/$name\", \"build\": \"$build\", \"size\": $size, \"sha256\": \"$sha\"}")
  echo "build/clients.sh: $rid/$name ($build, $size bytes, sha256 $sha)"
done

{
  printf '{\n  "version": "%s",\n  "files": [\n' "$version"
  for i in "${!entries[@]}"; do
    if [ "$i" -lt $((${#entries[@]} - 1)) ]; then printf '%s,\n' "${entries[$i]}"; else printf '%s\n' "${entries[$i]}"; fi
  done
  printf '  ]\n}\n'
} > "$out/manifest.json.tmp"
mv "$out/manifest.json.tmp" "$out/manifest.json"
