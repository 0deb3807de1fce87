-- The ledger's pages in index order: each order the ledger sorts by, with the id that breaks ties, is
-- one index, so a page of 50 reads 50 rows however many hazards the node holds (without them SQLite
-- sorted every row, bodies included, for each page: 0.6 s at 100,000 hazards).
CREATE INDEX hazards_created_id ON hazards (created, id);
CREATE INDEX hazards_deadline_id ON hazards (deadline, id);
CREATE INDEX hazards_found_created_id ON hazards (found_on, created, id);
DROP INDEX hazards_created;
DROP INDEX hazards_deadline;
DROP INDEX hazards_found_on;
