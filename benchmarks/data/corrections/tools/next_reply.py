#!/usr/bin/env python3
"""Set (or check) the `next` key of corpus rows: the opening of the agent's reply to the row's human turn.

Usage:
  next_reply.py [--mirrors DIR] [--check] FILE.jsonl ...

`next` is the agent's reply that follows the row's human turn in its source file (read from the bare git mirror
DIR/<owner>+<repo>/repo at the row's commit; DIR defaults to $MIRRORS, else /work/.mirror), cleaned to prose and
cut to its first 300 characters; "" when there is none (the turn is the last message, only tool output follows,
or the turn cannot be found in the file). The key sits right after `text`. Without --check every file is
rewritten in place (temp file + rename) in its own JSON style (separators and ensure_ascii, detected per file),
other keys keeping their order; with --check nothing is written, rows whose computed `next` differs from the
stored one are listed and the exit status is 1 if there are any.

Finding the turn: the rows of one committed file are taken in corpus order; each is matched to the first human
message at or after the previous match whose text equals the row's (whitespace runs folded; SpecStory's `---`
separator, possibly repeated, dropped from the end of both; or the extractor's own cut, which keeps a `---` the
person typed), else to the first equal message anywhere in the file (in the run, for Aider).

How each format gives the reply (the agent's messages up to the next human message, joined by blank lines):
- SpecStory (.specstory/history/*.md): `_**User…**_` / `_**Assistant…**_` / `_**Agent…**_` (also Cursor, Claude)
  headers; Cursor's own export and other markdown files also `**User**` / `**Cursor**` lines (zh_extract.HEADER).
  A section's prose is zh_extract.prose() after dropping SpecStory's one-line tool notes; a new-conversation
  header (`# title (date)`, zh_extract.SESSION_HEADER) inside an agent section ends the reply there. Reasoning
  titles are removed: runs of two or more bold spans, and bold-only opening lines unless they are themselves an
  acknowledgment (e.g. "**You're right**"; the cue lists are inlined below).
- Aider (.aider.chat.history.md): `#### ` lines are the person's (extract_aider.to_text), `# aider chat started at`
  starts a run (the row's session names it) and ends a reply; a SEARCH/REPLACE block is the agent's. An answer to
  Aider's yes/no confirmation prompt is not a new message, nor the echo of a /ask, /code or /architect request
  without its command: the reply goes on after them. Prose is extract_aider.prose() of each stretch.
- Claude Code transcripts (.claude-transcripts/*.md): a `> [!IMPORTANT]` callout is the person's turn
  (extract_claude_transcript.unquote); the text between callouts is cleaned by extract_claude_transcript.prose().
- VS Code Copilot Chat exports (`<login>: ` / `GitHub Copilot: ` lines after optional `---` front matter; any
  other markdown without speaker headers that has `GitHub Copilot:` lines): extract_copilot_export.prose().
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract_aider as AI  # noqa: E402
import extract_claude_transcript as CT  # noqa: E402
import extract_copilot_export as CP  # noqa: E402
from extract_specstory import strip_separator  # noqa: E402
from zh_extract import prose as zh_prose, HEADER as ZH_HEADER, SESSION_HEADER  # noqa: E402

MAX_CHARS = 300
# SpecStory's speaker headers (Cursor's `**User**` / `**Cursor**` lines are not headers in a SpecStory file)
SPECSTORY_HEADER = re.compile(r'^_\*\*(User|Assistant|Agent|Cursor|Claude)\b[^\n]*\*\*_[ \t]*$', re.M)
EXTRA_DROP = [re.compile(r'^(Tool use|Tool call|Additional data|Result):.*$', re.M), re.compile(r'^_\*{4}_[ \t]*$', re.M)]

# Acknowledgment cues (a bold opening line holding one is kept as prose, not dropped as a reasoning title).
STRONG_EN = [r"you'?re (absolutely |completely |totally |quite )?(right|correct)",
             r"you are (absolutely |completely |totally |quite )?(right|correct)",
             r"absolutely right", r"\bapologi[sz]e", r"\bapologies\b", r"\bsorry\b",
             r"my (mistake|bad|error|apologies|oversight)", r"good catch", r"great catch", r"nice catch", r"i was wrong",
             r"i misunderstood", r"i made (a|an) (mistake|error)",
             r"thanks? (you )?for (pointing|catching|the correction|clarifying)", r"that'?s (a )?(my|an) (mistake|oversight)",
             r"i overlooked", r"i missed"]
WEAK_EN = [r"i see the (issue|problem|error|bug)", r"i see what", r"i understand (now|the (issue|problem))",
           r"\bgood point\b", r"\bgreat point\b", r"\bfair point\b", r"\bunderstood\b", r"\bi see[,.!]", r"\bah,? i see\b",
           r"\bi understand\b"]
STRONG_ZH = ["你说得对", "你说的对", "您说得对", "您说的对", "你是对的", "您是对的", "你说得没错", "您说得没错", "抱歉", "对不起",
             "不好意思", "道歉", "我的错", "是我的", "我错了", "我误解", "理解错", "感谢指出", "谢谢指出", "感谢您的指正", "谢谢指正",
             "感谢指正", "疏忽", "遗漏了"]
WEAK_ZH = ["明白了", "我明白", "理解了", "我理解", "了解了", "确实", "没错", "我看到问题", "我发现问题", "发现了问题", "找到问题",
           "问题在于", "看到了问题"]
CUE = re.compile("|".join(STRONG_EN + WEAK_EN + [re.escape(x) for x in STRONG_ZH + WEAK_ZH]), re.I)
CUE_WINDOW = 150


def has_cue(s):
    return bool(CUE.search((s or "")[:CUE_WINDOW].replace("’", "'")))


def collapse(s):
    return re.sub(r'\n{3,}', '\n\n', s).strip()


def norm(s):
    """Text for matching: ends stripped, trailing `---` separators dropped, whitespace runs folded."""
    s = s.strip()
    while s.endswith('\n---') or s == '---':
        s = s[:-3].strip()
    return ' '.join(s.split())


def exact(s):
    """The extractor's own cut (one separator), whitespace folded: keeps a `---` the person typed at the end."""
    return ' '.join(strip_separator(s).split())


# ---- parsers: each returns events ('user', text, skipped) | ('agent', prose) | ('stop', run_name) ----

def md_clean(body):
    for rx in EXTRA_DROP:
        body = rx.sub('', body)
    return collapse(zh_prose(body))


def md_events(raw, header):
    heads = list(header.finditer(raw))
    ev = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(raw)
        body = raw[m.end():end]
        if (m.group(1) or (m.group(2) if header.groups > 1 else None)) == 'User':
            ev.append(('user', body, False))
            continue
        # an old multi-conversation file: the next conversation's header ends this reply
        sh = SESSION_HEADER.search(body)
        ev.append(('agent', md_clean(body[:sh.start()] if sh else body)))
        if sh:
            ev.append(('stop', None))
    return ev


def drop_titles(full):
    """Removes reasoning-summary titles: chained bold spans, and bold-only opening lines without a cue."""
    reply = re.sub(r'(\*\*[^*\n]{1,150}\*\*){2,}', '\n', full)
    while True:
        m = re.match(r'\s*\*\*([^*\n]{1,150})\*\*[ \t]*(\n|$)', reply)
        if not m or has_cue(m.group(1)):
            break
        reply = reply[m.end():]
    return collapse(reply)


def aider_skipped(t):
    cmd = t.split(None, 1)[0] if t else ''
    return bool(not t or t == '<blank>' or AI.CONFIRM.search(t.split('\n', 1)[0]) or t.startswith(('!', AI.WATCH))
                or (cmd.startswith('/') and cmd not in AI.KEEP_COMMANDS))


def aider_events(raw):
    lines = raw.split('\n')
    ev, pending, i, in_edit, seen = [], [], 0, False, {}

    def flush():
        if pending:
            ev.append(('agent', AI.prose(pending)))
            pending.clear()
    while i < len(lines):
        inside, in_edit = AI.in_edit_block(lines[i], in_edit)
        if inside:
            pending.append(lines[i])
            i += 1
            continue
        m = AI.START.match(lines[i])
        if m:
            flush()
            started = m.group(1).strip()
            seen[started] = seen.get(started, 0) + 1
            ev.append(('stop', started if seen[started] == 1 else f'{started}#{seen[started]}'))
            i += 1
            continue
        if lines[i].startswith('####'):
            t, i = AI.message_at(lines, i)
            flush()
            ev.append(('user', t, aider_skipped(t)))
            continue
        pending.append(lines[i])
        i += 1
    flush()
    return ev


def claude_events(raw):
    ev, pos = [], None
    for m in CT.CALLOUT.finditer(raw):
        if pos is not None:
            ev.append(('agent', CT.prose(raw[pos:m.start()])))
        pos = m.end()
        if m.group(1) == 'IMPORTANT':
            ev.append(('user', CT.unquote(m.group(2)).strip(), False))
    if pos is not None:
        ev.append(('agent', CT.prose(raw[pos:])))
    return ev


def copilot_events(raw):
    body = CP.without_front_matter(raw)
    first = re.match(r'\s*([A-Za-z0-9][A-Za-z0-9-]*):(?=[ \n])', body)
    if not first:
        return []
    heads = list(re.finditer(rf'^(?:({re.escape(first.group(1))})|(GitHub Copilot)):(?:[ \t]|(?=\n))', body, re.M))
    ev = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        chunk = body[m.end():end]
        ev.append(('user', chunk, False) if m.group(1) else ('agent', CP.prose(chunk)))
    return ev


def format_of(path, raw):
    if '.specstory/history' in path:
        return 'specstory'
    if path.endswith('.aider.chat.history.md'):
        return 'aider'
    if '.claude-transcripts/' in path:
        return 'claude'
    if not ZH_HEADER.search(raw) and re.search(r'^GitHub Copilot:', raw, re.M):
        return 'copilot'
    return 'cursor'


def events_of(fmt, raw):
    return {'specstory': lambda r: md_events(r, SPECSTORY_HEADER), 'cursor': lambda r: md_events(r, ZH_HEADER),
            'aider': aider_events, 'claude': claude_events, 'copilot': copilot_events}[fmt](raw)


def reply_after(ev, u, fmt):
    """The agent's prose from event u+1 up to the next human message, stop or run start."""
    txt = ev[u][1]
    words = txt.split(None, 1)
    # Aider echoes a /ask|/code|/architect request without its command as a second "####" block
    bare = words[1] if fmt == 'aider' and len(words) > 1 and words[0] in AI.KEEP_COMMANDS else None
    parts = []
    for e in ev[u + 1:]:
        if e[0] == 'agent':
            if e[1]:
                parts.append(e[1])
            continue
        if e[0] == 'user' and fmt == 'aider':
            if AI.CONFIRM.search(e[1].split('\n', 1)[0]):
                continue  # an answer to Aider's yes/no prompt: the reply goes on
            if bare is not None and norm(e[1]) == norm(bare):
                bare = None
                continue
        break
    full = '\n\n'.join(parts)
    reply = drop_titles(full) if fmt in ('specstory', 'cursor') else collapse(full)
    return reply[:MAX_CHARS]


def git_show(mirrors, src, commit, path):
    gd = os.path.join(mirrors, src.replace('/', '+'), 'repo')
    p = subprocess.run(['git', '--git-dir', gd, 'show', f'{commit}:{path}'], capture_output=True)
    return p.stdout.decode('utf-8', 'replace') if p.returncode == 0 else None


def compute(rows, mirrors, log=sys.stderr):
    """{row id: next} for the rows of one corpus file."""
    out = {}
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r['source'], r['commit'], r['path'])].append(r)
    for (src, commit, path), rs in groups.items():
        raw = git_show(mirrors, src, commit, path)
        if raw is None:
            print(f'unreadable: {src} {commit} {path}', file=log)
            for r in rs:
                out[r['id']] = ''
            continue
        fmt = format_of(path, raw)
        ev = events_of(fmt, raw)
        if fmt == 'aider':  # human messages of each run, as the extractor counts them
            runs, cur = collections.defaultdict(list), None
            for k, e in enumerate(ev):
                if e[0] == 'stop':
                    cur = e[1]
                elif e[0] == 'user' and not e[2]:
                    runs[cur if cur is not None else '(no start line)'].append(k)
            cands = lambda r: runs.get(r['session'].split(f'{src}:{path}@', 1)[-1], [])
        else:
            users = [k for k, e in enumerate(ev) if e[0] == 'user']
            cands = lambda r: users
        keys = {k: (norm(e[1]), exact(e[1])) for k, e in enumerate(ev) if e[0] == 'user'}
        pos = {}
        for r in rs:  # corpus order: runs in file order, turns in order
            us = cands(r)
            key = id(us)
            t = (norm(r['text']), ' '.join(r['text'].split()))
            same = lambda k: keys[k][0] == t[0] or keys[k][1] == t[1]
            p = pos.get(key, 0)
            hit = next((q for q in range(p, len(us)) if same(us[q])), None)
            if hit is None:
                hit = next((q for q in range(len(us)) if same(us[q])), None)
            if hit is None:
                print(f'not found in its file: {r["id"]}', file=log)
                out[r['id']] = ''
                continue
            pos[key] = hit + 1
            out[r['id']] = reply_after(ev, us[hit], fmt)
    return out


def json_style(lines):
    """(separators, ensure_ascii) of the file: the first pair that reproduces a line exactly. ensure_ascii is True
    only when the file escapes non-ASCII characters (\\uXXXX) and holds none unescaped."""
    nonascii = any(ord(c) > 127 for l in lines for c in l)
    escapes = any(re.search(r'(?<!\\)(?:\\\\)*\\u(?!00[01][0-9a-fA-F])[0-9a-fA-F]{4}', l) for l in lines)
    ea = escapes and not nonascii
    for line in lines:
        obj = json.loads(line)
        for sep in ((',', ':'), (', ', ': ')):
            if json.dumps(obj, separators=sep, ensure_ascii=ea) == line:
                return sep, ea
    return ((', ', ': ') if lines and re.match(r'\{"[^"]*": ', lines[0]) else (',', ':')), ea


def with_next(row, nxt):
    out = {}
    for k, v in row.items():
        if k == 'next':
            continue
        out[k] = v
        if k == 'text':
            out['next'] = nxt
    if 'next' not in out:
        out['next'] = nxt
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--mirrors', default=os.environ.get('MIRRORS') or '/work/.mirror')
    ap.add_argument('--check', action='store_true', help='only report rows whose `next` differs; exit 1 if any')
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    total = differ = 0
    for f in a.files:
        with open(f, encoding='utf-8', newline='') as fh:
            lines = [l for l in fh.read().split('\n') if l]
        rows = [json.loads(l) for l in lines]
        nxt = compute(rows, a.mirrors)
        total += len(rows)
        if a.check:
            for r in rows:
                if r.get('next') != nxt[r['id']]:
                    differ += 1
                    print(f'{f}: {r["id"]}\n  stored:   {r.get("next")!r}\n  computed: {nxt[r["id"]]!r}')
            continue
        sep, ea = json_style(lines)
        tmp = f + '.tmp'
        with open(tmp, 'w', encoding='utf-8', newline='\n') as o:
            for r in rows:
                o.write(json.dumps(with_next(r, nxt[r['id']]), separators=sep, ensure_ascii=ea) + '\n')
        os.replace(tmp, f)
    if a.check:
        print(f'{total} rows, {differ} differ', file=sys.stderr)
        return 1 if differ else 0
    print(f'{total} rows in {len(a.files)} files written', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
