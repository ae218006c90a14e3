CREATE TABLE "scorer_states" (
	"user_key" text NOT NULL,
	"model" text NOT NULL,
	"ledger_version" text NOT NULL,
	"community_version" integer,
	"image_ids" text[] NOT NULL,
	"scores" smallint[] NOT NULL,
	"fit" jsonb,
	"delta" bytea,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scorer_states_user_key_model_pk" PRIMARY KEY("user_key","model")
);
