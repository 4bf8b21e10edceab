#!/usr/bin/env python3
"""Extract the human turns of SpecStory histories (.specstory/history/*.md) and Cursor chat exports (cursor_*.md,
"**User**" / "**Cursor**" sections) from bare git mirrors, and build the labelled zh/ corpus files.

Reads every file straight from git at one commit (`git show COMMIT:path`), so the text is the committed bytes.
A human turn is the body of a `_**User**_` / `_**User (date)**_` section up to the next speaker header, minus the
`---` separator SpecStory writes before that header; only whitespace at the very ends of the whole turn is stripped.

`previous` is the assistant's prose before the turn: tool-use blocks, <details> tool output, <think> blocks and
SpecStory's one-line tool notes are removed; if a reply has no prose left, the last prose before it is used; cut to
the last 1500 characters. A new conversation header inside a file (old SpecStory files hold several) resets it.

Usage:
  zh_extract.py candidates tools/zh-sources.tsv > candidates.jsonl      rows without labels, for reading
  zh_extract.py build tools/zh-sources.tsv tools/labels-zh.tsv zh/      the corpus files (temp file + rename)
  zh_extract.py check zh/ [--sources]                                   format, splits, figures; --sources: texts
                                                                        are verbatim in the mirrored files
Mirrors are read from $MIRRORS/<owner>+<repo>/repo (default /work/.mirror), as `fetch` leaves them.
"""
import hashlib
import os
import json
import re
import subprocess
import sys

# SpecStory: `_**User**_`, `_**User (2025-07-07 05:54Z)**_`, `_**Assistant**_`, `_**Agent (model …, mode Agent)**_`;
# Cursor's own export: `**User**` / `**Cursor**` alone on a line.
HEADER = re.compile(r"^(?:_\*\*(User|Assistant|Agent|Cursor|Claude)\b[^\n]*\*\*_|\*\*(User|Cursor)\*\*)[ \t]*$", re.M)
SESSION_HEADER = re.compile(r"^#{1,2} [^\n]*\(\d{4}[-/]\d{1,2}[-/]\d{1,2}[^\n]*\)[ \t]*$", re.M)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
FENCE = re.compile(r"```.*?(```|\Z)", re.S)

MAX_TURNS_PER_SESSION = 80
MAX_TURNS_PER_REPO = 250

SYSTEM_USER = (
    "This session is being continued from a previous conversation",
    "<command-name>", "<local-command-stdout>", "Caveat:", "[Request interrupted",
    # Cursor's plan mode sends this when the person clicks "Build": not typed by the person
    "Implement the plan as specified, it is attached for your reference.",
    # Cursor's "Fix in Chat" button: a fixed template around a compiler message
    "For the code present, we get this error:",
    # VS Code Copilot's retry / continue buttons
    "@agent Try Again", "@agent Continue",
    # Claude Code (through SpecStory): local-command caveats, slash-command echoes, pasted-image placeholders
    "<local-command-caveat>", "<command-message>", "<local-command-stdout>", "[Image: source:", "<task-notification>",
)
# VS Code Copilot injects terminal notifications as user messages; Cursor's agent injects a finished subagent's
# report as a user message "<timestamp>…</timestamp>\n<system_notification>…"
SYSTEM_USER_RE = re.compile(r"^(\[Terminal [0-9a-f-]+ notification: |<timestamp>[^<]*</timestamp>\s*<system_notification>)")


def split_for(session: str) -> str:
    h = hashlib.sha256(session.encode("utf-8")).digest()[0] % 10
    return "train" if h <= 5 else ("dev" if h <= 7 else "test")


def prose(block: str) -> str:
    """Assistant prose with tool calls/results and hidden thinking removed."""
    t = re.sub(r"<tool-use\b.*?</tool-use>", "", block, flags=re.S)
    t = re.sub(r"<think>.*?</think>", "", t, flags=re.S)
    t = re.sub(r"<tool_calls>.*?(</tool_calls>|\Z)", "", t, flags=re.S)  # a tool call the model printed as text
    # <details> may nest (old SpecStory tool output); remove innermost first until none is left.
    prev = None
    while prev != t:
        prev = t
        t = re.sub(r"<details>(?:(?!<details>).)*?</details>", "", t, flags=re.S)
    t = re.sub(r"<tool-use\b.*", "", t, flags=re.S)  # an unterminated tool block at the end
    lines = []
    for line in t.split("\n"):
        s = line.strip()
        if re.match(r"^(Read file|Listed directory|Searched codebase|Grep search|Searched web|Deleted file|"
                    r"Could not find file|Cancelled|Model provided invalid arguments|Could not resolve URI|"
                    r"Tool use:|Edit file:|Model failed)\b", s):
            continue
        if s == "---":
            continue
        lines.append(line)
    t = "\n".join(lines)
    t = re.sub(r"\n{3,}", "\n\n", t)
    return t.strip()


LOG_LINE = re.compile(r"[/\\]|://|Exception|Error|error:|^\s*(at|File|e:|w:|E |W |>) ")
PROSE_WORD = re.compile(r"^[A-Za-z][a-z']*[,.!?]?$")


def lang_of(text: str) -> str:
    """The language of the person's own words. Pasted material (fenced blocks, log/code lines) is not counted:
    a line with Chinese characters is the person's; a line without them counts as English words only when it
    reads as prose (mostly plain lower-case words), not as a path, command, stack frame or identifier list."""
    # Codex's IDE extension prefixes an English "# Context from my IDE setup" block; the person's words follow
    if "## My request for Codex:" in text:
        text = text.split("## My request for Codex:", 1)[1]
    own = FENCE.sub(" ", text)
    cjk = 0
    words = 0
    for line in own.split("\n"):
        c = len(CJK.findall(line))
        if c:
            cjk += c
            continue
        line = re.sub(r"@\S+", " ", line)  # Cursor's @file / @terminal references
        if LOG_LINE.search(line):
            continue  # a path, stack frame or compiler/runtime message: pasted, not the person's words
        toks = line.split()
        prose = [t for t in toks if PROSE_WORD.match(t)]
        if len(toks) >= 4 and len(prose) >= 0.7 * len(toks):
            words += len(prose)
    if cjk == 0 and words == 0:
        return "zh"  # nothing of the person's own words (only a pasted block): the session's language
    return "zh" if cjk >= words * 0.5 else "en"


def turns_of(text: str):
    """Yield (user_text, previous_prose) in order."""
    heads = list(HEADER.finditer(text))
    last_prose = ""
    for i, m in enumerate(heads):
        start = m.end()
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[start:end]
        # a conversation header between the previous section and this one starts a new conversation
        before = text[heads[i - 1].end():m.start()] if i > 0 else text[:m.start()]
        if SESSION_HEADER.search(before):
            last_prose = ""
        if (m.group(1) or m.group(2)) == "User":
            b = re.sub(r"\n[ \t]*---[ \t]*\s*\Z", "", body.rstrip()) if i + 1 < len(heads) else body
            # strip a trailing session header that belongs to the next conversation (old multi-session files)
            b = b.strip()
            yield b, last_prose
        else:
            # the assistant body may end with the next conversation's header; prose stops there
            sh = SESSION_HEADER.search(body)
            p = prose(body[:sh.start()] if sh else body)
            if p:
                last_prose = p


def git_show(git_dir: str, commit: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
                          check=True, capture_output=True).stdout.decode("utf-8", errors="replace")


def read_manifest(path: str):
    """zh-sources.tsv: repo, commit, licence (SPDX), format, file path — one committed file a row. An optional sixth
    column says where the licence is stated when the repository has no licence file (README section, package.json)."""
    rows = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        repo, commit, licence, fmt, fpath = line.split("\t")[:5]
        rows.append((repo, commit, licence, fmt, fpath))
    return rows


class NotUtf8(Exception):
    """A human turn holds bytes that are not valid UTF-8: it cannot be carried exactly, so its session is left out."""


def session_rows(repo, commit, licence, path, raw):
    session = f"{repo}:{path}"
    rows = []
    for text, prev in turns_of(raw):
        if not text or text.startswith(SYSTEM_USER) or SYSTEM_USER_RE.match(text):
            continue
        if len(rows) >= MAX_TURNS_PER_SESSION:
            break
        # a file may hold a stray invalid byte (a broken emoji in the agent's prose): JSON cannot carry it, so
        # `previous` shows U+FFFD there; a human turn must decode exactly
        if "\ufffd" in text:
            raise NotUtf8(f"{session}#{len(rows)}: the human turn is not valid UTF-8")
        n = len(rows)
        rows.append({
            "id": f"{session}#{n}", "source": repo, "commit": commit, "path": path, "licence": licence,
            "session": session, "turn": n, "lang": lang_of(text), "previous": prev[-1500:], "text": text,
            "label": None, "why": None, "split": split_for(session),
        })
    return rows


def candidates(manifest: str, mirrors: str, log=None):
    """Every human turn of every listed file, whole sessions in order. Two kinds of session are left out:
    a copy of another session (SpecStory saves a renamed conversation again; people commit backups), which
    would otherwise sit in two splits, and a session whose turns are mostly English (that is the English corpus)."""
    kept = []  # (repo, tuple of texts) of every session kept so far
    for repo, commit, licence, fmt, path in read_manifest(manifest):
        git_dir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
        try:
            rows = session_rows(repo, commit, licence, path, git_show(git_dir, commit, path))
        except NotUtf8 as e:
            if log:
                print(f"skip session: {e}", file=log)
            continue
        if not rows:
            continue
        texts = tuple(r["text"] for r in rows)
        # a copy may also sit in another repository of the same person (forks, moved projects)
        dup = next((k for k in kept if k[1][:len(texts)] == texts or texts[:len(k[1])] == k[1]), None)
        if dup is not None:
            if log:
                print(f"skip copy: {repo}:{path}", file=log)
            continue
        zh = sum(r["lang"] == "zh" for r in rows)
        if zh * 2 < len(rows):
            if log:
                print(f"skip English session ({zh}/{len(rows)} zh): {repo}:{path}", file=log)
            continue
        kept.append((repo, texts))
        yield from rows


def read_labels(path: str):
    """labels-zh.tsv: id, label (clear|mild|none|skip), why. `skip` drops a non-human turn (why says which kind)."""
    labels = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        tid, label, why = line.split("\t")
        if label not in ("clear", "mild", "none", "skip"):
            raise SystemExit(f"bad label {label!r} for {tid}")
        if tid in labels:
            raise SystemExit(f"duplicate label for {tid}")
        labels[tid] = (label, why)
    return labels


def build(manifest: str, labels_path: str, mirrors: str, out_dir: str):
    labels = read_labels(labels_path)
    by_repo = {}
    missing = []
    seen = set()
    for row in candidates(manifest, mirrors):
        seen.add(row["id"])
        if row["id"] not in labels:
            missing.append(row["id"])
            continue
        label, why = labels[row["id"]]
        if label == "skip":
            continue
        row["label"], row["why"] = label, why
        by_repo.setdefault(row["source"], []).append(row)
    stale = sorted(set(labels) - seen)
    if missing or stale:
        raise SystemExit(f"{len(missing)} turns without a label (first: {missing[:3]}), "
                         f"{len(stale)} labels for no turn (first: {stale[:3]})")
    os.makedirs(out_dir, exist_ok=True)
    keys = ["id", "source", "commit", "path", "licence", "session", "turn", "lang", "previous", "text", "label",
            "why", "split"]
    for repo, rows in by_repo.items():
        # turn numbers stay those of the extraction; renumber after skips so `turn` is the index among kept turns
        per_session = {}
        for r in rows:
            k = per_session.setdefault(r["session"], 0)
            r["turn"] = k
            r["id"] = f"{r['session']}#{k}"
            per_session[r["session"]] = k + 1
        if len(rows) > MAX_TURNS_PER_REPO:
            raise SystemExit(f"{repo}: {len(rows)} turns, more than {MAX_TURNS_PER_REPO}")
        final = os.path.join(out_dir, repo.replace("/", "__") + ".jsonl")
        tmp = final + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n")
        os.replace(tmp, final)  # readers never see a half-written file
        print(f"{final}: {len(rows)} turns", file=sys.stderr)


KEYS = ["id", "source", "commit", "path", "licence", "session", "turn", "lang", "previous", "text", "label", "why",
        "split"]


def check(out_dir: str, mirrors: str | None):
    """Checks the corpus files: exact keys, label values, split from the session hash, whole sessions numbered
    0..n-1, limits per session and repository, `previous` within 1500 characters, and (with mirrors) that every
    text and previous occurs verbatim in the committed file it names. Prints the figures the report needs."""
    import collections
    import glob
    stats = collections.Counter()
    per_split = collections.Counter()
    sessions = collections.defaultdict(list)
    raw_cache = {}
    problems = []
    for f in sorted(glob.glob(os.path.join(out_dir, "*.jsonl"))):
        repo_rows = 0
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            r = json.loads(line)
            where = f"{os.path.basename(f)}:{n}"
            if list(r) != KEYS:
                problems.append(f"{where}: keys {list(r)}")
            if r["label"] not in ("clear", "mild", "none"):
                problems.append(f"{where}: label {r['label']}")
            if r["split"] != split_for(r["session"]):
                problems.append(f"{where}: split")
            if r["id"] != f"{r['session']}#{r['turn']}" or r["session"] != f"{r['source']}:{r['path']}":
                problems.append(f"{where}: id/session")
            if len(r["previous"]) > 1500 or not r["text"] or r["text"] != r["text"].strip():
                problems.append(f"{where}: previous/text shape")
            if not r["why"]:
                problems.append(f"{where}: no why")
            if os.path.basename(f) != r["source"].replace("/", "__") + ".jsonl":
                problems.append(f"{where}: wrong file for {r['source']}")
            if mirrors:
                key = (r["source"], r["commit"], r["path"])
                if key not in raw_cache:
                    git_dir = os.path.join(mirrors, r["source"].replace("/", "+"), "repo")
                    raw_cache[key] = git_show(git_dir, r["commit"], r["path"])
                if r["text"] not in raw_cache[key]:
                    problems.append(f"{where}: text not found verbatim in {r['path']}")
                if r["previous"] and r["previous"] not in raw_cache[key]:
                    stats["previous_not_verbatim"] += 1  # prose is cut out of blocks, so joins may differ
            sessions[r["session"]].append(r["turn"])
            repo_rows += 1
            stats["turns"] += 1
            stats[f"lang_{r['lang']}"] += 1
            stats[f"label_{r['label']}"] += 1
            per_split[(r["split"], r["label"])] += 1
            per_split[(r["split"], "turns")] += 1
        if repo_rows > MAX_TURNS_PER_REPO:
            problems.append(f"{f}: {repo_rows} turns")
    for s, turns in sessions.items():
        if turns != list(range(len(turns))) or len(turns) > MAX_TURNS_PER_SESSION:
            problems.append(f"{s}: turns {turns[:5]}…")
    splits_of_sessions = collections.Counter(split_for(s) for s in sessions)
    print(f"turns {stats['turns']} (zh {stats['lang_zh']}, en {stats['lang_en']}), sessions {len(sessions)}, "
          f"sources {len(glob.glob(os.path.join(out_dir, '*.jsonl')))}")
    print(f"labels: clear {stats['label_clear']}, mild {stats['label_mild']}, none {stats['label_none']}")
    for sp in ("train", "dev", "test"):
        print(f"  {sp}: {per_split[(sp, 'turns')]} turns in {splits_of_sessions[sp]} sessions, "
              f"clear {per_split[(sp, 'clear')]}, mild {per_split[(sp, 'mild')]}, none {per_split[(sp, 'none')]}")
    if mirrors:
        print(f"previous not a single verbatim run of the file: {stats['previous_not_verbatim']} (tool blocks cut out)")
    for p in problems:
        print("PROBLEM", p)
    return not problems


def main():
    mirrors = os.environ.get("MIRRORS", "/work/.mirror")
    if len(sys.argv) >= 3 and sys.argv[1] == "candidates":
        for row in candidates(sys.argv[2], mirrors, log=sys.stderr):
            print(json.dumps(row, ensure_ascii=False))
    elif len(sys.argv) == 5 and sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], mirrors, sys.argv[4])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check":
        ok = check(sys.argv[2], mirrors if sys.argv[-1] == "--sources" else None)
        sys.exit(0 if ok else 1)
    else:
        raise SystemExit("usage: zh_extract.py candidates MANIFEST | build MANIFEST LABELS OUT_DIR | "
                         "check OUT_DIR [--sources]  (MIRRORS=dir)")


if __name__ == "__main__":
    main()
