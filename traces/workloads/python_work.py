"""Bundled workload: an allocation-heavy, deterministic Python program.

Run with PYTHONMALLOC=malloc PYTHONHASHSEED=0 so every object goes through glibc malloc
and the run repeats exactly. It builds and tears down dicts, lists, strings and JSON the
way a small web backend would, with a working set that grows and shrinks.
"""
import json
import re
import sys

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
WORD = re.compile(r"[a-z]+")


def make_record(i):
    return {
        "id": i,
        "name": "user-%06d" % i,
        "tags": ["t%d" % (i % 17), "g%d" % (i % 5), "x" * (i % 40)],
        "score": (i * 7919) % 1000 / 10.0,
        "bio": " ".join("word%d" % ((i * k) % 97) for k in range(i % 23)),
    }


def main():
    cache = {}
    total = 0
    for r in range(ROUNDS):
        batch = [make_record(r * 500 + i) for i in range(500)]
        text = json.dumps(batch)
        back = json.loads(text)
        words = WORD.findall(text)
        counts = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        cache[r] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
        if len(cache) > 8:
            del cache[min(cache)]
        total += len(back) + len(words)
    print("records+words:", total)
    print("top:", cache[max(cache)][:3])


if __name__ == "__main__":
    main()
