-- Modify "messages" table
ALTER TABLE "messages" ADD COLUMN "follow_ups" jsonb NULL;
