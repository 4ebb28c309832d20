-- Bundled workload: sqlite3 building, indexing, querying and deleting a table (in memory).
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, item TEXT, qty INTEGER, price REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders(customer, item, qty, price)
SELECT 'customer-' || (i % 997), 'item-' || (i % 211) || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26), 1 + i % 9, (i % 1000) / 7.0 FROM n;
CREATE INDEX orders_customer ON orders(customer);
SELECT customer, count(*), round(sum(qty * price), 2) FROM orders GROUP BY customer ORDER BY 3 DESC LIMIT 5;
SELECT item, group_concat(DISTINCT customer) IS NOT NULL FROM orders WHERE qty > 5 GROUP BY item ORDER BY item LIMIT 3;
DELETE FROM orders WHERE id % 3 = 0;
VACUUM;
SELECT count(*), max(length(item)) FROM orders;
