#!/usr/bin/env python3
"""Writes the "Chinese" section of SOURCES.md from the corpus files and the manifest, so the table always matches
what zh/ holds. The licence column names the file it was read from at the listed commit (checked here again).

Usage: zh_sources_md.py tools/zh-sources.tsv zh/ > section.md   (MIRRORS=dir, default /work/.mirror)
"""
import collections
import glob
import json
import os
import subprocess
import sys

FORMATS = {"specstory": "SpecStory markdown (`_**User**_` / `_**Agent**_`)",
           "cursor-export": "Cursor chat export markdown (`**User**` / `**Cursor**`)"}


def licence_file(git_dir, commit):
    names = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", commit],
                           check=True, capture_output=True, text=True).stdout.split("\n")
    for n in names:
        base = n.rsplit("/", 1)[-1].upper()
        if n.count("/") <= 1 and (base.startswith("LICENSE") or base.startswith("LICENCE") or base == "COPYING"):
            first = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{n}"],
                                   check=True, capture_output=True, text=True).stdout.strip().split("\n")[0]
            return n, first.strip("# ").strip()
    return None, None


def main():
    manifest, out_dir = sys.argv[1], sys.argv[2]
    mirrors = os.environ.get("MIRRORS", "/work/.mirror")
    fmt = {}
    stated = {}  # repo → where the licence is stated when there is no licence file (sixth manifest column)
    for line in open(manifest, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        repo, commit, licence, f, path = cols[:5]
        fmt[(repo, path)] = f
        if len(cols) > 5 and cols[5]:
            stated[repo] = cols[5]
    rows = collections.defaultdict(list)
    for f in sorted(glob.glob(os.path.join(out_dir, "*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            r = json.loads(line)
            rows[r["source"]].append(r)
    print("## Chinese (`zh/`)\n")
    print("Collected and labelled by reading each turn (rules: `LABELLING.md`, Chinese notes: `LABELLING-zh.md`). "
          "Rebuild: `python3 tools/zh_extract.py build tools/zh-sources.tsv tools/labels-zh.tsv zh/` from `fetch` "
          "mirrors; `python3 tools/zh_extract.py check zh/ --sources` re-reads every file from git and confirms each "
          "`text` is verbatim.\n")
    print("| repository | commit(s) | paths used | licence (where stated) | format | sessions | turns | clear | mild |")
    print("|---|---|---|---|---|---|---|---|---|")
    total_s = total_t = 0
    total = collections.Counter()
    by_split = collections.Counter()
    for repo in sorted(rows, key=str.lower):
        rs = rows[repo]
        commits = sorted({r["commit"] for r in rs})
        paths = sorted({r["path"] for r in rs})
        sessions = len({r["session"] for r in rs})
        git_dir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
        lic_notes = set()
        for c in commits:
            name, first = licence_file(git_dir, c)
            if name:
                lic_notes.add(f"{rs[0]['licence']} — `{name}` (\"{first}\")")
            elif repo in stated:
                lic_notes.add(f"{rs[0]['licence']} — {stated[repo]}")
            else:
                raise SystemExit(f"{repo}@{c}: no licence file and no stated licence in the manifest")
        formats = sorted({FORMATS[fmt[(repo, p)]] for p in paths})
        path_text = "<br>".join(f"`{p}`" for p in paths)
        commit_text = "<br>".join(f"`{c}`" for c in commits)
        labels = collections.Counter(r["label"] for r in rs)
        print(f"| [{repo}](https://github.com/{repo}) | {commit_text} | {path_text} | {'; '.join(sorted(lic_notes))} "
              f"| {'; '.join(formats)} | {sessions} | {len(rs)} | {labels['clear']} | {labels['mild']} |")
        total_s += sessions
        total_t += len(rs)
        total.update(labels)
        for r in rs:
            by_split[(r["split"], "turns")] += 1
            by_split[(r["split"], r["label"])] += 1
    print(f"| **total** {len(rows)} repositories | | | | | **{total_s}** | **{total_t}** | **{total['clear']}** "
          f"| **{total['mild']}** |")
    print()
    print("By split (fixed by session hash): " + "; ".join(
        f"{sp} {by_split[(sp, 'turns')]} turns ({by_split[(sp, 'clear')]} clear, {by_split[(sp, 'mild')]} mild)"
        for sp in ("train", "dev", "test")) + ".")


if __name__ == "__main__":
    main()
