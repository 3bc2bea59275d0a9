-- A visit reads its person's coverage once (docs/performance.md, seventh and
-- eighth rounds: the same rows were read 4 times per outpatient visit).

-- Counts the changes to what a person's coverage is derived from: their
-- enrollments, paid periods, personal account (whether there is one) and
-- death date. Every repository function that writes one of these adds 1 in
-- the same transaction (`enrollment::bump_coverage_seq`).
ALTER TABLE person ADD COLUMN coverage_seq BIGINT NOT NULL DEFAULT 0;

-- The coverage a visit was opened with (JSON, written by the application)
-- with the person's coverage_seq and the contribution policy it was read
-- under. A later message of the visit reuses it while both are unchanged
-- and reads the coverage again otherwise. NULL on visits opened before this.
ALTER TABLE visit ADD COLUMN coverage TEXT;
