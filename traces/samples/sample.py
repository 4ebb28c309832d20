# Small deterministic Python workload for the model's regression gate (PYTHONMALLOC=malloc, PYTHONHASHSEED=0).
import json
rows = {str(i): [j * 7 for j in range(i % 20)] for i in range(200)}
text = json.dumps(rows)
back = json.loads(text)
del rows
words = sorted(set(text.split(",")))[:50]
print(len(text), len(back), len(words))
