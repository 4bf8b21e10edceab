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


# Repositories that were read and left out, with the reason (shown under the table so nobody re-checks them)
NOT_USED = [
    ("Charile333/LUMI-Demo", "MIT in README; a database password and a CRON secret pasted into human turns"),
    ("Alks0/miner-game", "MIT in README; a JWT pasted into a human turn"),
    ("chellezheng-1199/schedule-assistant", "MIT in README; an API key (sk-…) pasted into a human turn"),
    ("alading-2/GodotCSharpECSStruct_Open", "MIT; a GitHub token pasted into human turns"),
    ("CZD-123-hub/czd", "only npm's default `\"license\": \"ISC\"` in package.json of a student thesis project, not a stated licence"),
    ("Wesley1888/leadeval-system", "GPL-2.0 (copyleft; not in the corpus's permissive list)"),
    ("Hayden0226/Photography", "custom licence, all rights reserved"),
    ("Dylan2020THU/veloxis-cuetrace", "README: proprietary, all rights reserved"),
    ("ntu-info/emogo-frontend-BurningBright7214", "README: \"MIT License - 僅供教育用途\" (education-only restriction)"),
    ("Nemo-G/codely-agent-ui, iamyusen1314/smart-tutor, panxiangyu1995/RYLAPP",
     "a licence only for a vendored sub-package, none for the repository"),
    ("GongLongDong/yiyin, RichardChow/vueTest, HRYZNB/template-studio, lybfish/ironbull, laim3t/VecEdit, "
     "HUANGYIHAO382/BlueTooth_pc_terminal, Tyx796/MiniProject, kyhuan/smart-tourism and about 30 smaller ones",
     "Chinese agent chats but no licence stated anywhere"),
    ("Darrenthinker/forwarder-system, zerynG/fITcost, 2333qbyqby/GlobalPose, 9BwgeBTPG-QH/mark-it-down, "
     "kenny324324/kennyreseme, linnnn696/SmartRestaurant, chenyuxiangAK47/DIYOrigin, lihuilai/match3, "
     "catswerecaught/hanlin-bridge, faintcicado/CS310_nlp_project, PPJINHONG/cursor_pro",
     "Chinese agent chats but no licence stated anywhere (checked in the second round)"),
    ("henry1122/wp1141", "course homework; only one homework's package.json says MIT, nothing for the repository"),
    ("luole-ai/devProject", "only npm's default `\"license\": \"ISC\"` in package.json, not a stated licence"),
    ("albertyuee/deep-research-agent", "README lists the licences of downloaded test documents, none for the repository"),
    ("Adams521/everything-gift", "MIT in README, but its one chat export is cut off inside a character (not valid UTF-8)"),
    ("keithhegit/Shan_Hai_Jing, wangdexinya/Third-Person-MC",
     "their `docs/cursor_.md` is a copy of wangdexinya/ThreejsMC's, already in the corpus"),
    ("design4pro/mcp-rag-server", "MIT, but its SpecStory sessions are Polish and English, not Chinese"),
    ("weyoung3350/AIProxy", "MIT in README; a real Bailian API key sits in the agent's text of its two largest sessions "
     "(128 of 137 turns), so the whole source was left out"),
    ("Darrenthinker/TrackAll", "MIT in README; a database password and two tracking-API keys in both sessions"),
    ("iFiring/convert-to-taro-mcp", "one turn, and its only licence statement is a package.json the agent itself wrote in "
     "that chat"),
    ("luojinan/an-template", "MIT only in one sub-template's package.json, nothing for the repository"),
    ("Clark-zhang/llm-chat-history-plugin", "proprietary licence"),
    ("lveuxl/RL, Guluuuuuuuu/internn, 13366080068/ttc-email-chatbot, Darrenthinker/forwarder-discover-website, "
     "wangxiaomo12138/lqy2026, weixuan0102/EasyMatching, HuAzurestar/demo, AltarsCN/Openwrt-CI, "
     "Dylan2020THU/web-veloxis-ai, luojinan/lifeblog, luojinan/test-interview, luojinan/learn-tool, "
     "goldwish1/lennys-podcast-transcripts",
     "Chinese agent chats but no licence stated anywhere (checked in the third round)"),
    ("Harrylikerick/txt-tuoluoni, Kaorixsol/SoraWatermarkCleaner, Ultima0369/dao-science, "
     "MOIPA/schrodinger-bridge-sr-micrometeorology, HHH-wyx/Task-Master, LJK666666666/LLM_SAE, GinoZMYS/trae-rtl, "
     "hexm/VibeRemote",
     "their 对话记录 / 聊天记录 / chat_history files are summaries written afterwards, not agent chat transcripts"),
]


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
    print()
    print("Sessions left out inside used repositories: haha321-haha/hub-latest `3cursor_.md`, `6cursor_.md` and "
          "qingxiaoyanhua-droid/AudioChat-RAG `AI聊天记录2026.5.6.md` (a human turn is not valid UTF-8); AudioChat-RAG "
          "`cursor_casual_greeting_in_chinese.md` (a pasted CV with phone number and e-mail); funnysubaru/Yuichat "
          "`2026-01-20_04-26-zsh-configuration-lines-98-109.md` (a database password) and "
          "`2026-01-20_09-39-high-frequency-issue-performance-optimization.md` (a share token); five later Yuichat "
          "sessions (repository cap of 250 turns); weyoung3350/ros_exporter "
          "`2025-07-11_03-20Z-部署ros机器人系统和配置.md` (a device login password in the first turn); 139QQ/news_look: "
          "26 later sessions (repository cap of 250 turns: sessions taken in date order, skipping any that would pass the "
          "cap), besides one English session and two re-saved copies that the extractor drops; 808wrld/Mock-Data-Factory "
          "and yixian-huang/cocli: one mostly-English session each (dropped by the extractor). "
          "qingxiaoyanhua-droid/CodeFix-Agent is the same person as qingxiaoyanhua-droid/AudioChat-RAG; its interview-"
          "preparation session quotes the person's CV project text but no contact details.")
    print()
    print("### Considered and not used (Chinese)\n")
    for repo, why in NOT_USED:
        print(f"- {repo}: {why}")


if __name__ == "__main__":
    main()
