#!/usr/bin/env python3
"""Convert an aider chat log (.aider.chat.history.md) committed to a public repository into unlabelled corpus rows.

Usage:
  extract_aider.py --git-dir /path/to/bare.git --repo owner/name --licence MIT [--commit C] [--path P] > staging.jsonl

Format (written by aider): each run starts with `# aider chat started at <time>` (one session per run); every line
the person typed is written as `#### <line>` followed by the two spaces of a markdown line break; aider's own output
(commands, confirmations, edit results) is written as `> <line>`; everything else is the assistant's reply.

Conversion: a human turn is a run of consecutive `#### ` lines; the `#### ` prefix and the two trailing spaces aider
adds to each line are removed (nothing else), then whitespace at the two ends of the whole turn. Skipped as not
free human text: aider's confirmation prompts answered by the person ("Add file to the chat? (Y)es/(N)o ...") and
lines that are only an aider command (/add, /run, /undo, ...); `/ask`, `/code`, `/architect` followed by text are
kept whole. `previous` is the assistant prose since the last human turn with `> ` lines and SEARCH/REPLACE edit
blocks removed, cut to its last 1500 characters. Caps and split as in extract_specstory.py.
"""
import argparse, json, re, subprocess, sys, hashlib

MAX_SESSION_TURNS = 80
MAX_REPO_TURNS = 250
START = re.compile(r'^# aider chat started at (.+?)\s*$')
USER = re.compile(r'^####(?: (.*?))?(?:  )?$')
CONFIRM = re.compile(r'\((?:Y)es/\(N\)o')
COMMAND_ONLY = re.compile(r'^/(?!ask\b|code\b|architect\b)[a-z-]+\b')
EDIT_BLOCK = re.compile(r'^(`{3,}[^\n]*\n)?[^\n]*\n?<<<<<<< SEARCH\n.*?>>>>>>> REPLACE\n(`{3,}\n)?', re.S | re.M)


def git(gd, *args, check=True):
    return subprocess.run(['git', '-c', 'core.quotePath=false', '--git-dir', gd, *args], capture_output=True,
                          check=check).stdout


def split_of(session):
    h = hashlib.sha256(session.encode('utf-8')).digest()[0] % 10
    return 'train' if h <= 5 else ('dev' if h <= 7 else 'test')


def prose(lines):
    text = '\n'.join(l for l in lines if not l.startswith('>'))
    text = EDIT_BLOCK.sub('', text)
    return text.strip()


def sessions_of(text):
    """Yields (started_at, [(previous, turn_text)])."""
    started, turns, user, assistant, last = None, [], [], [], ''

    def flush_user():
        nonlocal user, assistant, last
        if not user:
            return
        t = '\n'.join(user).strip()
        user = []
        if not t or CONFIRM.search(t) or (COMMAND_ONLY.match(t) and '\n' not in t):
            return
        p = prose(assistant)
        if p:
            last = p
        assistant = []
        turns.append((last[-1500:], t))

    for line in text.split('\n'):
        m = START.match(line)
        if m:
            flush_user()
            if started is not None and turns:
                yield started, turns
            started, turns, assistant, last = m.group(1), [], [], ''
            continue
        u = USER.match(line)
        if u:
            user.append(u.group(1) or '')
            continue
        flush_user()
        assistant.append(line)
    flush_user()
    if started is not None and turns:
        yield started, turns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--git-dir', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--licence', required=True)
    ap.add_argument('--commit')
    ap.add_argument('--path', default='.aider.chat.history.md')
    a = ap.parse_args()
    c = a.commit or git(a.git_dir, 'log', '--all', '-n1', '--format=%H', '--diff-filter=AM', '--', a.path,
                        check=False).decode().strip()
    text = git(a.git_dir, 'show', f'{c}:{a.path}').decode('utf-8')
    total = 0
    seen = set()
    for started, turns in sessions_of(text):
        turns = turns[:MAX_SESSION_TURNS]
        key = tuple(t for _, t in turns)
        if key in seen:
            continue
        seen.add(key)
        if total + len(turns) > MAX_REPO_TURNS:
            continue
        total += len(turns)
        session = f'{a.repo}:{a.path}@{started}'
        for i, (prev, t) in enumerate(turns):
            row = {'id': f'{session}#{i}', 'source': a.repo, 'commit': c, 'path': a.path, 'licence': a.licence,
                   'session': session, 'turn': i, 'lang': 'en', 'previous': prev, 'text': t, 'split': split_of(session)}
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + '\n')
    print(f'{a.repo}: {len(seen)} sessions, {total} turns', file=sys.stderr)


if __name__ == '__main__':
    main()
