#!/usr/bin/env bash
# Builds the container image's content into OUT (OUT/app: the server with its native libraries). The Dockerfile runs
# exactly this, and so does the test suite: our machines cannot run containers, so the image's content is tested here.
set -euo pipefail
out=${1:?usage: build/image.sh OUT_DIR}
cd "$(dirname "$0")/.."
rm -rf "$out/app"
# The plain publish the deployment doc gives (the server references SkillLoop.Shared, never the client executable).
dotnet publish SkillLoop.Web -c Release -o "$out/app" --nologo -v quiet
# The image runs on linux-x64 only: native libraries for other platforms are dead weight.
if [ -d "$out/app/runtimes" ]; then
  find "$out/app/runtimes" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 ! -name linux ! -name unix -exec rm -rf {} +
fi

# The client binaries GET /install.sh hands out (app/clients, the server's default clients folder): Native AOT for
# linux-x64, self-contained single files for the rest. SKILLLOOP_CLIENT_RIDS limits the platforms (the test suite
# builds two of them, to keep CI within its time).
bash build/clients.sh "$out/app/clients"

# The image is useless without these: fail the build, not the first start.
missing=0
for required in SkillLoop.Web.dll clients/manifest.json clients/linux-x64/skillloop-client native/vec0.so runtimes/linux-x64/native/avx2/libllama.so runtimes/linux-x64/native/noavx/libllama.so runtimes/linux-x64/native/libonnxruntime.so runtimes/linux-x64/native/libe_sqlite3.so; do
  if [ ! -e "$out/app/$required" ]; then echo "build/image.sh: $required is missing from the image" >&2; missing=1; fi
done
if ! ls "$out/app"/runtimes/linux-x64/native/libgit2-*.so >/dev/null 2>&1; then echo "build/image.sh: libgit2 is missing from the image" >&2; missing=1; fi
exit $missing
