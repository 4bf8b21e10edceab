#!/usr/bin/env python3
"""Checks the corpus files against the format in LABELLING.md: keys and their order, labels, the split computed
from the session hash, turn numbering, the caps (80 turns a session, 250 a repository), the reserved sources, and -
when a directory of git mirrors is given - that every human turn occurs verbatim in the file it was read from.

Usage: check_corpus.py [--mirrors DIR] FILE.jsonl ...
"""
import argparse, collections, hashlib, json, subprocess, sys

KEYS = ['id', 'source', 'commit', 'path', 'licence', 'session', 'turn', 'lang', 'previous', 'text', 'next', 'label', 'why',
        'split']
RESERVED = {'palimondo/BookMinder', 'edobry/minsky', 'zchdoc/shadcn-ui-sidebar-08-admin-dev',
            'maloneype/yposfgold-community-platform'}


def aider_source(text):
    # Aider writes a message as "#### " lines joined by "  \n#### " (tools/extract_aider.py undoes exactly that).
    return '#### ' + text.replace('\n', '  \n#### ')


def transcript_source(text):
    # kiliman/claude-transcript quotes a prompt with "> " on every line (tools/extract_claude_transcript.py undoes it).
    return '> ' + text.replace('\n', '\n> ')


def split_of(session):
    h = hashlib.sha256(session.encode('utf-8')).digest()[0] % 10
    return 'train' if h <= 5 else ('dev' if h <= 7 else 'test')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mirrors')
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    errors, per_session, per_repo, ids, cache = [], collections.defaultdict(list), collections.Counter(), set(), {}
    for f in a.files:
        for n, line in enumerate(open(f, encoding='utf-8'), 1):
            where = f'{f}:{n}'
            r = json.loads(line)
            if list(r) != KEYS:
                errors.append(f'{where}: keys {list(r)}')
                continue
            if r['id'] in ids:
                errors.append(f'{where}: duplicate id')
            ids.add(r['id'])
            if r['id'] != f"{r['session']}#{r['turn']}":
                errors.append(f'{where}: id does not match session#turn')
            if r['label'] not in ('clear', 'mild', 'none') or not r['why'].strip():
                errors.append(f'{where}: label/why')
            if r['split'] != split_of(r['session']):
                errors.append(f'{where}: split is not the session hash split')
            if r['source'] in RESERVED:
                errors.append(f'{where}: reserved source')
            if not r['text'] or r['text'] != r['text'].strip():
                errors.append(f'{where}: empty text or whitespace at the ends')
            if len(r['previous']) > 1500:
                errors.append(f'{where}: previous longer than 1500')
            if len(r['commit']) != 40:
                errors.append(f'{where}: commit is not 40 hex')
            per_session[r['session']].append(r['turn'])
            per_repo[r['source']] += 1
            if a.mirrors:
                key = (r['source'], r['commit'], r['path'])
                if key not in cache:
                    gd = f"{a.mirrors}/{r['source'].replace('/', '+')}/repo"
                    out = subprocess.run(['git', '--git-dir', gd, 'show', f"{r['commit']}:{r['path']}"],
                                         capture_output=True)
                    try:
                        cache[key] = out.stdout.decode('utf-8') if out.returncode == 0 else None
                    except UnicodeDecodeError:
                        cache[key] = False  # a committed file that is not valid UTF-8 cannot carry a turn exactly
                src = cache[key]
                if src is None:
                    errors.append(f'{where}: cannot read {key}')
                elif src is False:
                    errors.append(f'{where}: the source file is not valid UTF-8')
                elif r['text'] not in src and not (r['path'].endswith('.aider.chat.history.md')
                                                    # the turn's own leading spaces were stripped: its body
                                                    and aider_source(r['text'])[len('#### '):] in src) \
                        and not (r['path'].startswith('.claude-transcripts/')
                                 and (transcript_source(r['text']) in src
                                      or transcript_source(r['text']).replace('\n> \n', '\n>\n') in src)):
                    errors.append(f'{where}: text not found verbatim in the source file')
    for s, turns in per_session.items():
        if sorted(turns) != list(range(len(turns))):
            errors.append(f'{s}: turns not numbered 0..n-1')
        if len(turns) > 80:
            errors.append(f'{s}: more than 80 turns')
    for repo, n in per_repo.items():
        if n > 250:
            errors.append(f'{repo}: more than 250 turns')
    for e in errors[:50]:
        print(e)
    print(f'{len(ids)} rows, {len(per_session)} sessions, {len(per_repo)} sources, {len(errors)} problems')
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
