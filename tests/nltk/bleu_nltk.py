#!/usr/bin/python3
"""bleu_nltk.py - NLTK's corpus BLEU for the corpora tests/test_bleu.c writes (src/data/bleu.h).

Input file: one sentence per line, "hypothesis ids|reference ids[|more reference ids...]"
(space-separated integers, any part may be empty); a blank line ends a corpus. For each corpus, one output line
  corpus C b1 b2 b3 b4
with NLTK's corpus_bleu at weights (1,), (1/2,)*2, (1/3,)*3, (1/4,)*4 and
SmoothingFunction().method1 (epsilon 0.1), printed with 17 significant digits; --no-smoothing
uses method0 instead (to show that the comparison can tell the two apart).

  /usr/bin/python3 tests/nltk/bleu_nltk.py FILE [--no-smoothing]

Needs Debian's python3-nltk (scripts/deps.sh analysis). Exit 0, or 2 on a bad argument or line.
"""
import sys
import warnings

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu


def corpora(path):
    cur = []
    with open(path, encoding="ascii") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                if cur:
                    yield cur
                cur = []
                continue
            if line.count("|") < 1:
                sys.exit(f"bleu_nltk.py: {path}:{lineno}: expected 'hyp ids|ref ids', got {line!r}")
            hyp, *refs = line.split("|")
            cur.append(([int(t) for t in hyp.split()], [[int(t) for t in r.split()] for r in refs]))
    if cur:
        yield cur


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    sm = SmoothingFunction()
    warnings.simplefilter("ignore")  # method0 warns about zero counts; the numbers are the point
    for c, pairs in enumerate(corpora(sys.argv[1])):
        refs = [r for _, r in pairs]
        hyps = [h for h, _ in pairs]
        vals = {
            smooth: [corpus_bleu(refs, hyps, weights=(1.0 / n,) * n, smoothing_function=smooth)
                     for n in range(1, 5)]
            for smooth in (sm.method1, sm.method0)
        }
        print("corpus", c, " ".join("%.17g" % float(v) for v in vals[sm.method1]), "raw",
              " ".join("%.17g" % float(v) for v in vals[sm.method0]))


if __name__ == "__main__":
    main()
