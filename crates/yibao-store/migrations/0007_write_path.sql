-- Less written per settlement (docs/performance.md, "pages per commit").

-- A pre-settlement (2206 / 2303) writes nothing: it is a calculation on the
-- visit as it stands, answered by a reader, so the visit no longer records
-- that one was made.
ALTER TABLE visit DROP COLUMN pre_settled;

-- Lookups by (mdtrt_id, chrg_bchno) use the primary key's mdtrt_id prefix
-- (a visit has at most a few hundred lines); the extra index cost a page
-- per upload.
DROP INDEX fee_detail_batch;

-- The balance index keeps covering every column a balance needs, but orders
-- an account's lines of a day by entry (time-ordered ids) instead of by side
-- and amount: new lines append at the account's end instead of landing on a
-- random page of the day.
DROP INDEX fund_line_account;
CREATE INDEX fund_line_account ON fund_line (region, account, sub, fund, entry_date, entry_id, side, amount_fen);
