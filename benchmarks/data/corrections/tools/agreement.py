#!/usr/bin/env python3
"""How far two careful readers agree: a second, blind labelling of a random sample against the corpus's labels.

Usage: python3 tools/agreement.py audit/second-opinion-2026-12-02.tsv   (reads the corpus beside tools/)

The TSV holds id, label, why for rows drawn at random (fixed seed) from every split, labelled by someone who read
LABELLING.md / LABELLING-zh.md and each turn with its `previous`, without seeing the corpus's label. Prints per
language the three-way and the correction-or-not agreement with Cohen's kappa, and the second opinion scored as if it
were a detector against the corpus's labels: the precision and recall a reader who labels this way would get.
"""
import collections
import glob
import json
import os
import sys

CORPUS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kappa(pairs, categories):
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = collections.Counter(a for a, _ in pairs)
    second = collections.Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in categories) / (n * n)
    return observed, (observed - expected) / (1 - expected)


def main(path):
    corpus = {}
    for f in glob.glob(os.path.join(CORPUS, "en", "*.jsonl")) + glob.glob(os.path.join(CORPUS, "zh", "*.jsonl")):
        for line in open(f, encoding="utf-8"):
            row = json.loads(line)
            corpus[row["id"]] = row
    second = {}
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and not line.startswith("#"):
            if parts[0] not in corpus:
                sys.exit(f"{parts[0]}: not in the corpus")
            second[parts[0]] = parts[1].strip()
    print(f"{len(second)} rows labelled twice")
    for lang in ("en", "zh", "all"):
        for split in ("any", "test", "train+dev"):
            ids = [i for i in second if (lang == "all" or corpus[i]["lang"] == lang)
                   and (split == "any" or (split == "test") == (corpus[i]["split"] == "test"))]
            if not ids:
                continue
            three = [(corpus[i]["label"], second[i]) for i in ids]
            binary = [(a != "none", b != "none") for a, b in three]
            agree3, kappa3 = kappa(three, ("clear", "mild", "none"))
            agree2, kappa2 = kappa(binary, (True, False))
            tp = sum(a and b for a, b in binary)
            fp = sum(b and not a for a, b in binary)
            fn = sum(a and not b for a, b in binary)
            print(f"{lang:3} {split:9} {len(ids):4} rows | clear/mild/none agree {agree3:.2f} (kappa {kappa3:.2f})"
                  f" | correction or not agree {agree2:.2f} (kappa {kappa2:.2f})"
                  f" | second opinion as a detector: P {tp / max(1, tp + fp):.2f} R {tp / max(1, tp + fn):.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
