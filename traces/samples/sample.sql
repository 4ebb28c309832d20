-- Small deterministic sqlite3 workload for the model's regression gate.
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
  INSERT INTO t SELECT i, printf('row %d %08x', i, (i * 2654435761) % 4294967296), zeroblob(i % 200) FROM n;
CREATE INDEX tb ON t(b);
DELETE FROM t WHERE a % 3 = 0;
SELECT count(*), sum(length(b)), sum(length(c)) FROM t;
