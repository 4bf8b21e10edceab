#!/usr/bin/env python3
"""Convert Claude Code transcripts written by kiliman/claude-transcript (`.claude-transcripts/*.md`: each person's
prompt is a GitHub callout `> [!IMPORTANT]` followed by the prompt with every line prefixed by `> `; interruptions
are `> [!WARNING]`, rejected tool calls `> [!CAUTION]`) into unlabelled corpus rows, one per human turn.

Usage:
  extract_claude_transcript.py --git-dir /path/to/bare.git --repo owner/name --licence MIT > staging.jsonl

Each file at HEAD is one session. The turn is the callout's quoted lines with their `> ` (or `>`) prefix removed -
exactly the inverse of the converter's quoting, nothing else changed - and whitespace at the two ends stripped
(tools/check_corpus.py re-quotes it to find it in the file). Slash commands (a callout whose first line is
`` `/name` ``, or a lone code span), interruption markers and the other non-human texts listed in extract_specstory.py are skipped.
`previous` is the assistant prose between two prompts: code fences, tool lines (an emoji followed by a bold tool
name), "([view file](…))" links and to-do items removed, cut to its last 1500 characters.
"""
import argparse, re, sys

sys.path.insert(0, __import__('os').path.dirname(__file__))
from extract_specstory import git, agent_prose, write_sessions, is_system  # noqa: E402

CALLOUT = re.compile(r'^> \[!(IMPORTANT|WARNING|CAUTION|NOTE|TIP)\][ \t]*\n((?:>[^\n]*(?:\n|$))*)', re.M)
FENCE = re.compile(r'^```.*?^```[ \t]*$', re.M | re.S)
TOOL = re.compile(r'^(\S{1,3} \*\*[^*\n]+\*\*.*|\(\[view file\].*|\.\.\. \+\d+ lines.*|- \[[ x]\] .*)$', re.M)


def unquote(block):
    return '\n'.join(l[2:] if l.startswith('> ') else l[1:] for l in block.rstrip('\n').split('\n'))


def prose(s):
    s = TOOL.sub('', FENCE.sub('', s))
    s = re.sub(r'^#\s.*$|^##\s🗂️.*$|^🕒.*$', '', s, flags=re.M)
    return re.sub(r'\n{3,}', '\n\n', s).strip()


def session_turns(text):
    turns, pending, last_prose, pos = [], [], '', None
    for m in CALLOUT.finditer(text):
        # The file's header (title, project, time, session id) before the first callout is not assistant prose.
        p = prose(text[pos:m.start()]) if pos is not None else ''
        if p:
            pending.append(p)
        pos = m.end()
        if m.group(1) != 'IMPORTANT':
            continue
        t = unquote(m.group(2)).strip()
        # A slash command, or a command message the converter rendered as a lone code span ("`COMMAND`\\").
        if not t or re.match(r'`/[\w:-]+[^`\n]*`', t) or re.fullmatch(r'`[^`\n]*`\\?', t) or is_system(t):
            continue
        last_prose = agent_prose(pending, last_prose)
        turns.append((last_prose[-1500:], t))
    return turns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--git-dir', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--licence', required=True)
    ap.add_argument('--english-only', action='store_true')
    a = ap.parse_args()
    head = git(a.git_dir, 'rev-parse', 'HEAD').decode().strip()
    paths = [p for p in git(a.git_dir, 'ls-tree', '--name-only', 'HEAD', '.claude-transcripts/').decode().splitlines()
             if p.endswith('.md')]
    sessions = ((p, session_turns(git(a.git_dir, 'show', f'{head}:{p}').decode('utf-8'))) for p in sorted(paths))
    total = write_sessions(a.repo, head, a.licence, sessions, a.english_only)
    print(f'{a.repo}: {total} turns', file=sys.stderr)


if __name__ == '__main__':
    main()
