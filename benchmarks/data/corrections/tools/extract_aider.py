#!/usr/bin/env python3
"""Convert Aider chat histories (`.aider.chat.history.md`) committed to a public repository into unlabelled corpus
rows (one per human turn).

Usage:
  extract_aider.py --git-dir /path/to/bare.git --repo owner/name --licence MIT [--english-only] > staging.jsonl

Aider appends every run to one markdown file: "# aider chat started at <time>" opens a session; what the person typed
is written as "#### " lines (a multi-line message is joined with "  \\n#### "); tool output, warnings and command
results are "> " lines; everything else is the model's reply. The conversion is exact and reversible: a turn's text is
the "#### " block with that prefix and separator undone (`check_corpus.py` re-applies them to find the turn verbatim
in the file). A "#### " line inside a SEARCH/REPLACE block of the model's reply (a markdown heading in the file it
writes) is file content, not a message. Skipped as not written in natural language by the person: "<blank>" inputs and bare slash commands
(/add, /run, /undo, …, and "!" shell commands) except /ask, /code and /architect, whose text is the person's own
request, the answers to Aider's yes/no confirmation prompts, and the prompts Aider's watch mode writes around
"AI!" code comments. `previous` is the
model's prose since the last human turn with "> " lines and SEARCH/REPLACE edit blocks removed, cut to its last
1500 characters. Each file is read at HEAD, or at the newest commit that added or modified it when deleted later.
"""
import argparse, json, re, sys
from extract_specstory import git, session_rows, NON_LATIN, MAX_SESSION_TURNS, MAX_REPO_TURNS

START = re.compile(r'^# aider chat started at (.+)$')
SEP = '  \n#### '
KEEP_COMMANDS = ('/ask', '/code', '/architect')
EDIT_BLOCK = re.compile(r'<<<<<<< SEARCH\n.*?>>>>>>> REPLACE[ \t]*', re.S)
EMPTY_FENCE = re.compile(r'^```[^\n]*\n\s*```[ \t]*$', re.M)
# Aider's confirmation prompts, saved with the answer typed ("Add file to the chat? (Y)es/(N)o/… [Yes]: skip").
CONFIRM = re.compile(r'\(Y\)es/\(N\)o')
# Aider's watch mode writes its own prompt around "AI!"/"AI?" code comments; the framing text is not the person's.
WATCH = 'Find the "AI" comments below'


def to_text(block):
    """The person's message from its "#### " lines (exact inverse of Aider's writer)."""
    return block[len('#### '):].replace(SEP, '\n') if block.startswith('#### ') else block[len('####'):]


def to_source(text):
    """How Aider writes a message: used by check_corpus.py to find the turn verbatim."""
    return '#### ' + text.replace('\n', SEP)


def prose(lines):
    s = EDIT_BLOCK.sub('', '\n'.join(lines))  # before dropping "> " lines: ">>>>>>> REPLACE" starts with ">"
    s = '\n'.join(l for l in s.split('\n') if not (l == '>' or l.startswith('> ')))
    s = EMPTY_FENCE.sub('', s)
    return re.sub(r'\n{3,}', '\n\n', s).strip()


def message_at(lines, i):
    """The person's message starting at line i (its "#### " lines, joined by Markdown line breaks), and the line after it."""
    j = i
    while j + 1 < len(lines) and lines[j + 1].startswith('####') and lines[j].endswith('  '):
        j += 1
    return to_text('\n'.join(lines[i:j + 1])).strip(), j + 1


def in_edit_block(line, in_edit):
    """Whether a line belongs to a SEARCH/REPLACE block of the model's reply, and whether the block goes on after it: a
    markdown h4 ("#### Request") inside one is file content, not a message the person typed."""
    if in_edit:
        return True, not line.startswith('>>>>>>> REPLACE')
    if line.startswith('<<<<<<< SEARCH'):
        return True, True
    return False, False


def sessions_of(text):
    """Yields (started, [(previous, turn_text), …]) per Aider run."""
    lines = text.split('\n')
    sessions, cur, started, pending, last_prose = [], None, None, [], ''
    i, in_edit = 0, False
    while i < len(lines):
        inside, in_edit = in_edit_block(lines[i], in_edit)
        if inside:
            pending.append(lines[i])
            i += 1
            continue
        m = START.match(lines[i])
        if m:
            if cur is not None:
                sessions.append((started, cur))
            cur, started, pending, last_prose = [], m.group(1).strip(), [], ''
            i += 1
            continue
        if lines[i].startswith('####'):
            t, i = message_at(lines, i)
            p = prose(pending)
            pending = []
            if p:
                last_prose = p
            if cur is None:
                cur, started = [], '(no start line)'
            cmd = t.split(None, 1)[0] if t else ''
            if (not t or t == '<blank>' or CONFIRM.search(t.split('\n', 1)[0]) or t.startswith(('!', WATCH))
                    or (cmd.startswith('/') and cmd not in KEEP_COMMANDS)):
                continue
            cur.append((last_prose[-1500:] if cur else '', t))
            continue
        pending.append(lines[i])
        i += 1
    if cur is not None:
        sessions.append((started, cur))
    return sessions


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--git-dir', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--licence', required=True)
    ap.add_argument('--english-only', action='store_true')
    ap.add_argument('--max-repo', type=int, default=MAX_REPO_TURNS)
    a = ap.parse_args()
    gd = a.git_dir
    rx = re.compile(r'(^|/)\.aider\.chat\.history\.md$')
    head = git(gd, 'rev-parse', 'HEAD').decode().strip()
    at_head = {l for l in git(gd, 'ls-tree', '-r', '--name-only', 'HEAD').decode('utf-8').splitlines() if rx.search(l)}
    in_log = {l for l in git(gd, 'log', '--all', '--format=', '--name-only', check=False).decode('utf-8').splitlines()
              if rx.search(l)}
    total, out = 0, []
    for p in sorted(at_head | in_log):
        c = head if p in at_head else git(gd, 'log', '--all', '-n1', '--format=%H', '--diff-filter=AM', '--', p,
                                          check=False).decode().strip()
        if not c:
            continue
        text = git(gd, 'show', f'{c}:{p}').decode('utf-8', errors='replace')
        seen = {}
        for started, turns in sessions_of(text):
            if not turns:
                continue
            if a.english_only and any(len(NON_LATIN.findall(t)) > 3 for _, t in turns):
                print(f'not English: {p}@{started}', file=sys.stderr)
                continue
            seen[started] = seen.get(started, 0) + 1
            sid = started if seen[started] == 1 else f'{started}#{seen[started]}'
            turns = turns[:MAX_SESSION_TURNS]
            if total + len(turns) > a.max_repo:
                print(f'repo cap: skipped {p}@{sid} ({len(turns)} turns)', file=sys.stderr)
                continue
            total += len(turns)
            session = f'{a.repo}:{p}@{sid}'
            out.extend(session_rows(a.repo, c, p, a.licence, session, turns))
    for row in out:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + '\n')
    print(f'{a.repo}: {len({r["session"] for r in out})} sessions kept, {total} turns', file=sys.stderr)


if __name__ == '__main__':
    main()
