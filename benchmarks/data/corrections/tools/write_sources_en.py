#!/usr/bin/env python3
"""Writes the "English" section of SOURCES.md from en/*.jsonl and tools/sources-en.tsv (counts, commits, licences).
Run from benchmarks/data/corrections: python3 tools/write_sources_en.py > /tmp/en-section.md"""
import collections, glob, json

rows = [json.loads(l) for f in sorted(glob.glob('en/*.jsonl')) for l in open(f, encoding='utf-8')]
src = {}
for line in open('tools/sources-en.tsv', encoding='utf-8'):
    if line.startswith('#') or not line.strip():
        continue
    repo, lic, where, fmt = line.rstrip('\n').split('\t')[:4]
    src[repo] = (lic, where, fmt)
by = collections.defaultdict(list)
for r in rows:
    by[r['source']].append(r)
out = ['## English', '',
       'All English rows (`en/*.jsonl`) come from agent chat histories that their owners committed to public GitHub '
       'repositories: SpecStory histories (`.specstory/history/*.md`; SpecStory saves Cursor, VS Code Copilot, Claude '
       'Code, Codex CLI and Gemini CLI sessions; the agent is named in each file; each file is one session), Aider '
       'chat histories (`.aider.chat.history.md`, one file per repository in which each "# aider chat started at …" '
       'run is one session, converted by `tools/extract_aider.py`), VS Code Copilot Chat exports (`<login>: …` / '
       '`GitHub Copilot: …` markdown, one file per session, converted by `tools/extract_copilot_export.py`; exports '
       'whose agent turns are not marked were left out whole) and Claude Code transcripts written by '
       'kiliman/claude-transcript (`.claude-transcripts/*.md`, prompts quoted as `> [!IMPORTANT]` callouts, converted '
       'by `tools/extract_claude_transcript.py`). Nobody on this team wrote any of them. A file still present at the snapshot\'s HEAD was read at HEAD; a file deleted later was read at '
       'the newest commit that added or modified it (`commit` in each row). Later re-saves of one conversation were '
       'dropped as duplicates (`tools/extract_specstory.py`). The licence is the repository\'s licence as stated at the '
       'snapshot\'s HEAD (ThatHunky/gryag deleted every file at HEAD, LICENSE included: its licence is the MIT LICENSE '
       'present at the commits read). Sources marked `--english-only` in `tools/sources-en.tsv` had their sessions '
       'with a turn in another script (Ukrainian) left out. Sessions whose "human" turns were written by the agent '
       'itself (Cursor subagent prompts such as "Explore the … codebase and return a structured summary", and '
       '"Implement the following to-dos … You have been assigned …" hand-offs) were left out when labelling. A '
       'project hook\'s own text that the editor saved as a user message is dropped with `--skip-regex` (in '
       '`tools/sources-en.tsv`). Sessions holding a secret or personal data were left out whole when labelling, never '
       'edited: robin-collins/next-ppdb (4 sessions: a database URL with its password, a customer\'s name and phone '
       'number), Awhitter/pgstndtrprt (1: a person\'s e-mail address) and specstoryai/keyframe-blogger (1: an e-mail '
       'address and cloud project identifiers). robin-collins/aibundle is capped at 150 turns (`--max-repo 150`, sessions '
       'whose file name mentions an error or fix first) because the same person also wrote robin-collins/gpt-crawler, '
       'robin-collins/Roo-Cline and robin-collins/next-ppdb. ARTPARK-SAHAI-ORG/calibrate-backend is CC BY-SA 4.0 (share-alike): its rows keep that '
       'licence; drop `en/ARTPARK-SAHAI-ORG__calibrate-backend.jsonl` if share-alike data is not wanted.', '',
       '| Repository | Licence (SPDX, where stated) | Format | Sessions | Turns | clear | mild |',
       '|---|---|---|---:|---:|---:|---:|']
tot = collections.Counter()
for repo in sorted(by, key=lambda s: (-len(by[s]), s)):
    rs = by[repo]
    lic, where, fmt = src[repo]
    c = collections.Counter(r['label'] for r in rs)
    n_s = len({r['session'] for r in rs})
    out.append(f'| [{repo}](https://github.com/{repo}) | {lic} ({where}) | {fmt} | {n_s} | {len(rs)} | '
               f"{c['clear']} | {c['mild']} |")
    tot.update({'s': n_s, 't': len(rs), 'c': c['clear'], 'm': c['mild']})
out.append(f"| **Total: {len(by)} repositories** | | | **{tot['s']}** | **{tot['t']}** | **{tot['c']}** | "
           f"**{tot['m']}** |")
split = collections.Counter((r['split'], r['label']) for r in rows)
out += ['', 'By split (fixed by session hash): ' + '; '.join(
    f"{s} {sum(v for (a, _), v in split.items() if a == s)} turns "
    f"({split[(s, 'clear')]} clear, {split[(s, 'mild')]} mild)" for s in ('train', 'dev', 'test')) + '.', '',
    '### Commits and paths read', '',
    'Every row carries its exact `commit` and `path` (files under `.specstory/history/`, `.aider.chat.history.md`, '
    'Copilot Chat exports under `chat-logs/`, or `.claude-transcripts/`). Commits per repository:', '']
for repo in sorted(by):
    rs = by[repo]
    commits = sorted({r['commit'] for r in rs})
    out.append(f"- **{repo}** — {len({r['path'] for r in rs})} file(s); " + ', '.join(f'`{c}`' for c in commits))
print('\n'.join(out))
