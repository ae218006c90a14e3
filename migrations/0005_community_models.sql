CREATE TABLE "community_models" (
	"model" text PRIMARY KEY NOT NULL,
	"version" integer NOT NULL,
	"params" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
