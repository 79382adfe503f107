-- Modify "runs" table
ALTER TABLE "runs" ADD COLUMN "last_seq" bigint NOT NULL DEFAULT 0, ADD COLUMN "seq_reserved" bigint NOT NULL DEFAULT 0, ADD COLUMN "recoveries" bigint NOT NULL DEFAULT 0;
