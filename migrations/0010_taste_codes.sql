-- Taste codes (core/taste-codes*.ts): a short code naming an immutable snapshot of a person's scorer,
-- taken when /profile is shown and the scorer moved on since the last one (one per person, embedding
-- model and ledger version). A snapshot is self-contained: the linear model's weights and bias, and
-- for the nearest-neighbour methods the rated vectors and scores, so it scores the same forever.
-- A forget deletes a person's codes and keeps only a hash of each (retired_taste_codes), so a
-- forgotten code can answer "this taste code no longer exists" without naming anybody.
CREATE TABLE "taste_codes" (
	"code" text PRIMARY KEY NOT NULL,
	"user_key" text NOT NULL,
	"model" text NOT NULL,
	"ledger_version" text NOT NULL,
	"ratings" integer NOT NULL,
	"method" text NOT NULL,
	"dim" integer NOT NULL,
	"weights" bytea,
	"bias" double precision,
	"neighbour_vectors" bytea,
	"neighbour_scores" smallint[],
	"neighbour_k" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
CREATE UNIQUE INDEX "taste_codes_person_version_idx" ON "taste_codes" USING btree ("user_key","model","ledger_version");--> statement-breakpoint
CREATE INDEX "taste_codes_person_created_idx" ON "taste_codes" USING btree ("user_key","created_at");--> statement-breakpoint
CREATE TABLE "retired_taste_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"retired_at" timestamp with time zone DEFAULT now() NOT NULL
);
