-- The version of a visit's fee lines (docs/performance.md, sixteenth round).
-- Every write of a visit's fee lines (upload, cancellation, their 2601
-- reversals) sets a new one, greater than the last, in the same transaction
-- (`line_cache::next_lines_version`). The lines a write job saw are kept in
-- memory under the version after its commit, and are used only by a reader
-- that sees the visit at that version. 0 on visits whose lines were last
-- written before this.
ALTER TABLE visit ADD COLUMN lines_version BIGINT NOT NULL DEFAULT 0;
