-- Named leases: one holder at a time, until expires_at (the database's clock, so the pods' clocks never
-- disagree about it). Discord shards take one each so no two processes open a session on one shard.
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
