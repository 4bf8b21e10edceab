#!/usr/bin/env python3
"""Writes en/<owner>__<name>.jsonl from staging rows (extract_*.py output) and tools/labels-en.tsv.

labels-en.tsv: one line per labelled turn: id <TAB> label <TAB> why. Only labelled turns are written, so every
row in en/ carries a label made by reading it. Each file is written to a temporary name and renamed, so a reader
never sees a half-written line.

Usage: merge_labels.py STAGING_DIR [LABELS_TSV]
"""
import json, os, sys, glob

KEYS = ['id', 'source', 'commit', 'path', 'licence', 'session', 'turn', 'lang', 'previous', 'text', 'label', 'why',
        'split']
here = os.path.dirname(os.path.abspath(__file__))
staging = sys.argv[1]
labels_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, 'labels-en.tsv')
out_dir = os.path.join(os.path.dirname(here), 'en')

labels = {}
for n, line in enumerate(open(labels_path, encoding='utf-8'), 1):
    line = line.rstrip('\n')
    if not line or line.startswith('#'):
        continue
    parts = line.split('\t')
    if len(parts) != 3 or parts[1] not in ('clear', 'mild', 'none') or not parts[2].strip():
        sys.exit(f'{labels_path}:{n}: expected id<TAB>clear|mild|none<TAB>why, got {line!r}')
    if parts[0] in labels:
        sys.exit(f'{labels_path}:{n}: {parts[0]} labelled twice')
    labels[parts[0]] = (parts[1], parts[2].strip())

seen, total, counts = set(), 0, {}
for f in sorted(glob.glob(os.path.join(staging, '*.jsonl'))):
    rows = []
    for line in open(f, encoding='utf-8'):
        r = json.loads(line)
        seen.add(r['id'])
        if r['id'] not in labels:
            continue
        r['label'], r['why'] = labels[r['id']]
        rows.append({k: r[k] for k in KEYS})
    if not rows:
        continue
    dest = os.path.join(out_dir, os.path.basename(f))
    tmp = dest + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='\n') as o:
        for r in rows:
            o.write(json.dumps(r, ensure_ascii=False, separators=(',', ':')) + '\n')
    os.replace(tmp, dest)
    total += len(rows)
    for r in rows:
        counts[(r['split'], r['label'])] = counts.get((r['split'], r['label']), 0) + 1
unknown = set(labels) - seen
if unknown:
    print(f'warning: {len(unknown)} labels for ids not in staging (sources not staged?), e.g. {sorted(unknown)[:3]}')
print(f'{total} labelled turns written')
for s in ('train', 'dev', 'test'):
    print(s, {l: counts.get((s, l), 0) for l in ('clear', 'mild', 'none')})
