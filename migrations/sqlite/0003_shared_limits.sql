-- Rate limits and concurrency shared by replicas through the database (PostgreSQL without
-- Redis). A cell is one GCRA state (its theoretical arrival time, in microseconds of the
-- database's clock) per key and unit; replicas take units from it in chunks and give back
-- what they did not use. A slot row is how many of a key's concurrent requests a replica
-- holds; it expires when the replica stops renewing it.
CREATE TABLE limit_cells (
    key_id TEXT NOT NULL,
    unit TEXT NOT NULL,
    tat_us BIGINT NOT NULL,
    PRIMARY KEY (key_id, unit)
);

CREATE TABLE limit_slots (
    key_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    slots BIGINT NOT NULL,
    expires_us BIGINT NOT NULL,
    PRIMARY KEY (key_id, holder)
);
