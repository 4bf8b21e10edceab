#!/bin/bash
# Re-creates the unlabelled staging rows for every English source in tools/sources-en.tsv.
# MIRRORS: directory holding one bare git mirror per source as <owner>+<name>/repo (default /work/.mirror).
# sources-en.tsv: repo, licence, where it is stated, format, and optional extra extractor arguments.
# STAGING: output directory (default /tmp/corrections-staging/en), one <owner>__<name>.jsonl per source.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MIRRORS=${MIRRORS:-/work/.mirror}; STAGING=${STAGING:-/tmp/corrections-staging/en}
mkdir -p "$STAGING"
grep -v '^#' "$here/sources-en.tsv" | while IFS=$'\t' read -r repo licence where format extra; do
  [ -z "$repo" ] && continue
  case "$format" in
    SpecStory*) tool=extract_specstory.py ;;
    Aider*) tool=extract_aider.py ;;
    "Copilot Chat export"*) tool=extract_copilot_export.py ;;
    "Claude Code transcript"*) tool=extract_claude_transcript.py ;;
    *) echo "no converter for $format" >&2; exit 1 ;;
  esac
  python3 "$here/$tool" --git-dir "$MIRRORS/${repo/\//+}/repo" --repo "$repo" --licence "$licence" $extra \
    > "$STAGING/${repo/\//__}.jsonl.tmp" 2> "$STAGING/${repo/\//__}.log"
  mv "$STAGING/${repo/\//__}.jsonl.tmp" "$STAGING/${repo/\//__}.jsonl"
  tail -1 "$STAGING/${repo/\//__}.log"
done
