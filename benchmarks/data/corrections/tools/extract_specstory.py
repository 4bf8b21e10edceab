#!/usr/bin/env python3
"""Convert SpecStory chat histories (.specstory/history/*.md) committed to a public repository into
unlabelled corpus rows (one per human turn), byte-exact.

Usage:
  extract_specstory.py --git-dir /path/to/bare.git --repo owner/name --licence MIT [--path P ...] > staging.jsonl

Without --path every `.specstory/history/*.md` ever committed is read, each at the newest commit that added or
modified it (so files deleted later are still read at a real commit). Rows are written without `label`/`why`;
`merge_labels.py` adds those from tools/labels-en.tsv.

What is kept exactly: the human section between its `_**User…**_` header and the `---` separator before the next
header; only whitespace at the two ends of the whole turn is stripped. `previous` is the assistant prose of the
sections since the last human turn (thinking, <details>/<tool-use> blocks and tool-call lines removed, nothing
else changed), cut to its last 1500 characters.
"""
import argparse, hashlib, json, re, subprocess, sys

HEADER = re.compile(r'^_\*\*(User|Assistant|Agent)\b[^\n]*\*\*_[ \t]*$', re.M)
SYSTEM_PREFIXES = ('<command-name>', '<command-message>', '<local-command-stdout>', 'Caveat:',
                   'This session is being continued from a previous conversation', '[Request interrupted',
                   '<user-prompt-submit-hook>', '<system-reminder>', '<system_notification>',
                   '<local-command-caveat>', 'System: Please continue.',
                   # Claude Code's bash mode ("!cmd"): the shell command and its output, like Aider's "!" commands.
                   '<bash-input>', '<bash-stdout>', '<bash-stderr>')
# A slash command typed in Claude Code and saved together with its local output ("/exit\n  ⎿  See ya!").
COMMAND_ECHO = re.compile(r'^/[a-z][\w:-]*\b[^\n]*\n\s*⎿')
PROSE_DROP = [
    re.compile(r'<think>.*?</think>', re.S),
    re.compile(r'<details>.*?</details>', re.S),
    re.compile(r'<tool-use\b.*?</tool-use>', re.S),
    re.compile(r'^_\*{4}_[ \t]*$', re.M),
    re.compile(r'^(Tool use|Tool call|Additional data|Result):.*$', re.M),
]
# Letters of scripts other than Latin: a session with a turn written in them is not an English session.
NON_LATIN = re.compile(r'[\u0400-\u04ff\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]')
MAX_SESSION_TURNS = 80
MAX_REPO_TURNS = 250


def git(gd, *args, check=True):
    # A snapshot can lack a few old objects: listing history then ends early but still lists what it could read.
    return subprocess.run(['git', '-c', 'core.quotePath=false', '--git-dir', gd, *args],
                          capture_output=True, check=check).stdout


def split_of(session):
    h = hashlib.sha256(session.encode('utf-8')).digest()[0] % 10
    return 'train' if h <= 5 else ('dev' if h <= 7 else 'test')


def session_rows(repo, commit, path, licence, session, turns):
    """One corpus row (CORPUS.md's keys, in its order) per human turn of a session; labels are merged in later."""
    return [{'id': f'{session}#{i}', 'source': repo, 'commit': commit, 'path': path, 'licence': licence,
             'session': session, 'turn': i, 'lang': 'en', 'previous': prev, 'text': t, 'split': split_of(session)}
            for i, (prev, t) in enumerate(turns)]


def write_session(repo, commit, path, licence, turns):
    """Writes a session named by its file (repo:path) to stdout, one JSON line per human turn."""
    for row in session_rows(repo, commit, path, licence, f'{repo}:{path}', turns):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + '\n')


def write_sessions(repo, commit, licence, sessions, english_only=False):
    """Writes (path, turns) sessions in order: a session not in English is dropped when asked, each is cut to
    MAX_SESSION_TURNS, and one that would take the repository past MAX_REPO_TURNS is skipped. Returns the turns written."""
    total = 0
    for path, turns in sessions:
        if english_only and any(len(NON_LATIN.findall(t)) > 3 for _, t in turns):
            print(f'not English: {path}', file=sys.stderr)
            continue
        turns = turns[:MAX_SESSION_TURNS]
        if not turns:
            continue
        if total + len(turns) > MAX_REPO_TURNS:
            print(f'repo cap: skipped {path}', file=sys.stderr)
            continue
        total += len(turns)
        write_session(repo, commit, path, licence, turns)
    return total


def strip_separator(s):
    s = s.strip()
    if s.endswith('\n---') or s == '---':
        s = s[:-3].strip()
    return s


def prose(s):
    for rx in PROSE_DROP:
        s = rx.sub('', s)
    s = strip_separator(s)
    return s


def parse(text):
    """Yields (role, content) in order."""
    heads = list(HEADER.finditer(text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        role = 'user' if m.group(1) == 'User' else 'assistant'
        yield role, text[m.end():end]


# Cursor stamps a background-task notice with the time it arrived: "<timestamp>…</timestamp>\n<system_notification>".
TIMESTAMP = re.compile(r'^<timestamp>[^<]*</timestamp>\s*')


def is_system(t):
    t = TIMESTAMP.sub('', t)
    return t.startswith(SYSTEM_PREFIXES) or bool(COMMAND_ECHO.match(t))


def agent_prose(pending, last_prose):
    """The agent's prose before a human turn: what it said since the previous human turn (pending, emptied here),
    else what it said before that turn. It is also the prose for the next turn if the agent says nothing new."""
    if pending:
        last_prose = '\n\n'.join(pending)
        pending.clear()
    return last_prose


def session_turns(text):
    turns, pending, last_prose = [], [], ''
    for role, content in parse(text):
        if role == 'assistant':
            p = prose(content)
            if p:
                pending.append(p)
            continue
        t = strip_separator(content)
        if not t or is_system(t):
            continue
        last_prose = agent_prose(pending, last_prose)
        turns.append((last_prose[-1500:], t))
    return turns


def is_copy(short, long):
    """A shorter save of the same conversation: a prefix of a longer one, or the same opening turn with most of
    its turns repeated (SpecStory re-saves a conversation under a new name; some owners later edit paths in them)."""
    if long[:len(short)] == short:
        return True
    same = sum(t in long for t in short)
    return same >= 2 and same * 2 >= len(short)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--git-dir', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--licence', required=True)
    ap.add_argument('--path', action='append')
    ap.add_argument('--max-repo', type=int, default=MAX_REPO_TURNS)
    ap.add_argument('--prefer', default=r'(?i)debug|fix|error|fail|broken|issue|bug|not[-_ ]work|troubleshoot',
                    help='sessions whose path matches are taken first when the repository cap applies')
    ap.add_argument('--skip-regex', action='append', default=[],
                    help='drop human turns that match (re.match) this pattern: a project\'s own hook text that the '
                         'editor saved as a user message (no spaces: stage_all.sh passes the arguments unquoted)')
    ap.add_argument('--english-only', action='store_true',
                    help='drop whole sessions in which a human turn is written in a non-Latin script (Cyrillic, CJK, …)')
    a = ap.parse_args()
    gd = a.git_dir
    rx = re.compile(r'(^|/)\.specstory/history/[^/]+\.md$')
    head = git(gd, 'rev-parse', 'HEAD').decode().strip()
    at_head = {l for l in git(gd, 'ls-tree', '-r', '--name-only', 'HEAD').decode('utf-8').splitlines() if rx.search(l)}
    in_log = {l for l in git(gd, 'log', '--all', '--format=', '--name-only', check=False).decode('utf-8').splitlines()
              if rx.search(l)}
    paths = a.path or sorted(at_head | in_log)
    sessions = []
    for p in paths:
        # Files still present are read at HEAD; deleted ones at the newest commit that added or modified them.
        c = head if p in at_head else git(gd, 'log', '--all', '-n1', '--format=%H', '--diff-filter=AM', '--', p,
                                          check=False).decode().strip()
        if not c:
            continue
        try:
            text = git(gd, 'show', f'{c}:{p}').decode('utf-8')
        except subprocess.CalledProcessError:
            print(f'unreadable: {p}', file=sys.stderr)
            continue
        turns = session_turns(text)
        if a.skip_regex:
            turns = [(prev, t) for prev, t in turns if not any(re.match(x, t) for x in a.skip_regex)]
        if a.english_only and any(len(NON_LATIN.findall(t)) > 3 for _, t in turns):
            print(f'not English: {p}', file=sys.stderr)
            continue
        if turns:
            sessions.append((p, c, turns))
    # The same conversation is often saved twice (renamed file, or a later save with more turns): keep the longest.
    keep = []
    for s in sorted(sessions, key=lambda s: (-len(s[2]), s[0])):
        texts = [t for _, t in s[2]]
        if any(is_copy(texts, [t for _, t in k[2]]) for k in keep):
            print(f'duplicate of a longer session: {s[0]}', file=sys.stderr)
            continue
        keep.append(s)
    prefer = re.compile(a.prefer)
    keep.sort(key=lambda s: (not prefer.search(s[0]), s[0]))
    total, chosen = 0, []
    for p, c, turns in keep:
        turns = turns[:MAX_SESSION_TURNS]
        if total + len(turns) > a.max_repo:
            print(f'repo cap: skipped {p} ({len(turns)} turns)', file=sys.stderr)
            continue
        total += len(turns)
        chosen.append((p, c, turns))
    for p, c, turns in sorted(chosen):
        write_session(a.repo, c, p, a.licence, turns)
    print(f'{a.repo}: {len(keep)} sessions kept, {total} turns', file=sys.stderr)


if __name__ == '__main__':
    main()
