-- Fewer B-trees written per settlement (docs/performance.md, nineteenth
-- round). PostgreSQL only; SQLite's version is 0010_fewer_btrees.sqlite.sql,
-- which also rebuilds tables for what PostgreSQL already has (a heap with
-- one primary-key index; there is no rowid to merge).
--
-- fund_entry.reverses and account_movement.authorization_id are NULL on
-- nearly every row, and their B-trees held every NULL. Only rows that have
-- one are looked up by it (`reverses = $1`, `authorization_id = $1`, which
-- imply NOT NULL), so the indexes are now partial. Uniqueness of reverses is
-- unchanged: a unique constraint never compared NULLs either.

ALTER TABLE fund_entry DROP CONSTRAINT fund_entry_reverses_key;
CREATE UNIQUE INDEX fund_entry_reverses ON fund_entry (reverses) WHERE reverses IS NOT NULL;

DROP INDEX account_movement_auth;
CREATE INDEX account_movement_auth ON account_movement (authorization_id, move_date)
    WHERE authorization_id IS NOT NULL;
