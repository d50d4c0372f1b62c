CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, grp INTEGER);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000)
INSERT INTO t SELECT i, 'name' || i, i * 0.25, i % 97 FROM c;
CREATE INDEX t_grp ON t(grp, v);
UPDATE t SET v = v * 2, name = upper(name) WHERE id % 3 = 0;
SELECT count(*), sum(v), max(name) FROM t;
SELECT grp, count(*), round(avg(v), 3) FROM t WHERE grp < 5 GROUP BY grp ORDER BY grp;
