"""Bundled workload: dict/str/list/tuple churn with a working set that grows and shrinks.

Run with PYTHONMALLOC=malloc PYTHONHASHSEED=0 (every object through glibc malloc, repeatable).
About 6.4 million malloc-family calls at the default size; roughly 100 ns of Python work per call,
which makes it the reference for the recorder's overhead (README "Recorder: measured").
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
d = {}
for i in range(n):
    d[str(i) * 3] = [i, str(i), (i, i + 1)]
    if i % 3 == 0:
        d.pop(str(i - 3) * 3, None)
s = sorted(d.keys())
print(len(s), sum(len(x) for x in s))
