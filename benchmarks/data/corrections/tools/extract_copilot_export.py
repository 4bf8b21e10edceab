#!/usr/bin/env python3
"""Convert VS Code Copilot Chat exports committed to a public repository ("Chat: Export Chat…" saved as markdown:
an optional `---` front matter with model/mode/workspace, then `<github-login>: <text>` for the person (the
first line of the export) and `GitHub Copilot: <text>` for the agent) into unlabelled corpus rows, one per human turn, byte-exact.

Usage:
  extract_copilot_export.py --git-dir /path/to/bare.git --repo owner/name --licence MIT --under chat-logs/ > staging.jsonl

Each file is one session, read at HEAD. A person's turn runs from `<login>: ` to the next line that starts with
`GitHub Copilot: `; only whitespace at the two ends is stripped. A file in which some turn is not followed by a
`GitHub Copilot: ` answer (exports from other editors that do not name the agent) is left out whole, because the end
of such a turn cannot be told from the text. `previous` is the agent's prose with its tool lines ("Read [](…)",
"Using \"Apply Patch\"", "Made changes.", empty code fences) removed, cut to its last 1500 characters.
"""
import argparse, re, sys

sys.path.insert(0, __import__('os').path.dirname(__file__))
from extract_specstory import git, write_sessions  # noqa: E402

AGENT = 'GitHub Copilot: '
TOOL_LINE = re.compile(r'^(Read|Created|Checked|Searched|Ran|Edited|Using|Summarized|Starting|Completed|Updated|'
                       r'Continue to iterate\?)\b.*$|^Made changes\.\s*$', re.M)
EMPTY_FENCE = re.compile(r'```[^\n]*\n\s*```')


def prose(s):
    s = EMPTY_FENCE.sub('', TOOL_LINE.sub('', s))
    return re.sub(r'\n{3,}', '\n\n', s).strip()


def without_front_matter(text):
    """The export's text after its `---` front matter, if it has one."""
    body = text
    if body.startswith('---'):
        end = re.search(r'^---[ \t]*$', body[3:], re.M)
        m = re.match(r'---\s*\n(.*?\n)?---[ \t]*\n', body, re.S)
        if m:
            body = body[m.end():]
        elif end:
            body = body[3 + end.end():]
    return body


def session_turns(text):
    """Returns [(previous, turn)] or None when the file does not alternate person / GitHub Copilot."""
    body = without_front_matter(text)
    # The export opens with the person's turn: its first line names the person's login.
    first = re.match(r'\s*([A-Za-z0-9][A-Za-z0-9-]*):(?=[ \n])', body)
    if not first or first.group(1) == 'GitHub':
        return None
    login = first.group(1)
    heads = list(re.finditer(rf'^(?:({re.escape(login)})|(GitHub Copilot)):(?:[ \t]|(?=\n))', body, re.M))
    turns, last_prose, expect_agent = [], '', False
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        chunk = body[m.end():end]
        if m.group(1):
            if expect_agent:
                return None
            t = chunk.strip()
            if t:
                turns.append((last_prose[-1500:], t))
            expect_agent = True
        else:
            p = prose(chunk)
            if p:
                last_prose = p
            expect_agent = False
    if expect_agent or not turns:
        return None
    return turns


def alternating(git_dir, head, paths):
    """(path, turns) of each export whose human and agent turns alternate; the others are reported and left out."""
    for p in paths:
        turns = session_turns(git(git_dir, 'show', f'{head}:{p}').decode('utf-8'))
        if turns is None:
            print(f'not an alternating Copilot export: {p}', file=sys.stderr)
            continue
        yield p, turns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--git-dir', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--licence', required=True)
    ap.add_argument('--under', default='')
    ap.add_argument('--english-only', action='store_true')
    a = ap.parse_args()
    head = git(a.git_dir, 'rev-parse', 'HEAD').decode().strip()
    paths = [p for p in git(a.git_dir, 'ls-tree', '-r', '--name-only', 'HEAD', '--', a.under or '.').decode().splitlines()
             if p.endswith('.md')]
    total = write_sessions(a.repo, head, a.licence, alternating(a.git_dir, head, sorted(paths)), a.english_only)
    print(f'{a.repo}: {total} turns', file=sys.stderr)


if __name__ == '__main__':
    main()
