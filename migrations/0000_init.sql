CREATE TABLE "candidates" (
	"run_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"idx" integer NOT NULL,
	"prompt" text NOT NULL,
	"image_id" text,
	"score" double precision,
	"member_scores" jsonb,
	"feedback" text,
	"skipped_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "candidates_run_id_iteration_idx_pk" PRIMARY KEY("run_id","iteration","idx")
);
--> statement-breakpoint
CREATE TABLE "embeddings" (
	"image_id" text NOT NULL,
	"model" text NOT NULL,
	"dim" integer NOT NULL,
	"vector" real[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "embeddings_image_id_model_pk" PRIMARY KEY("image_id","model")
);
--> statement-breakpoint
CREATE TABLE "forgotten_users" (
	"user_key_hash" text PRIMARY KEY NOT NULL,
	"forgotten_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "images" (
	"id" text PRIMARY KEY NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"bytes" integer NOT NULL,
	"source" text NOT NULL,
	"prompt" text,
	"generator" text,
	"seed" integer,
	"owner_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"delivered_at" timestamp with time zone,
	"delivered_ref" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_messages" (
	"platform" text NOT NULL,
	"message_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"scope_id" text,
	"image_id" text,
	"run_id" text,
	"kind" text NOT NULL,
	"event_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platform_messages_platform_message_id_pk" PRIMARY KEY("platform","message_id")
);
--> statement-breakpoint
CREATE TABLE "processed_events" (
	"event_key" text PRIMARY KEY NOT NULL,
	"user_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rating_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_key" text NOT NULL,
	"image_id" text NOT NULL,
	"kind" text NOT NULL,
	"score" smallint NOT NULL,
	"event_time" timestamp (6) with time zone NOT NULL,
	"effective_score" smallint,
	"source" text NOT NULL,
	"scope_id" text,
	"channel_id" text,
	"message_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rating_votes" (
	"user_key" text NOT NULL,
	"image_id" text NOT NULL,
	"score" smallint NOT NULL,
	"present" boolean NOT NULL,
	"event_time" timestamp (6) with time zone NOT NULL,
	"source" text NOT NULL,
	"scope_id" text,
	"channel_id" text,
	"message_id" text,
	CONSTRAINT "rating_votes_user_key_image_id_score_pk" PRIMARY KEY("user_key","image_id","score")
);
--> statement-breakpoint
CREATE TABLE "ratings" (
	"user_key" text NOT NULL,
	"image_id" text NOT NULL,
	"score" smallint NOT NULL,
	"event_time" timestamp (6) with time zone NOT NULL,
	"source" text NOT NULL,
	"scope_id" text,
	"channel_id" text,
	"message_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ratings_user_key_image_id_pk" PRIMARY KEY("user_key","image_id")
);
--> statement-breakpoint
CREATE TABLE "run_iterations" (
	"run_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"best_score" double precision,
	"best_so_far" double precision,
	"feedback" text,
	"scorer_n" integer,
	"optimizer_state" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_iterations_run_id_iteration_pk" PRIMARY KEY("run_id","iteration")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"user_key" text NOT NULL,
	"scope_id" text,
	"request_key" text,
	"status" text NOT NULL,
	"initial_prompt" text NOT NULL,
	"params" jsonb NOT NULL,
	"destination" jsonb,
	"next_iteration" integer DEFAULT 0 NOT NULL,
	"state" jsonb,
	"metrics" jsonb,
	"error" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"locked_by" text,
	"heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scope_settings" (
	"scope_id" text PRIMARY KEY NOT NULL,
	"ingest_attachments" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scorer_models" (
	"user_key" text NOT NULL,
	"model" text NOT NULL,
	"method" text NOT NULL,
	"n" integer NOT NULL,
	"params" jsonb NOT NULL,
	"quality" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scorer_models_user_key_model_pk" PRIMARY KEY("user_key","model")
);
--> statement-breakpoint
CREATE TABLE "usage" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text,
	"user_key" text,
	"scope_id" text,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"kind" text NOT NULL,
	"tokens_in" integer DEFAULT 0 NOT NULL,
	"tokens_out" integer DEFAULT 0 NOT NULL,
	"images" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_scopes" (
	"user_key" text NOT NULL,
	"scope_id" text NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_scopes_user_key_scope_id_pk" PRIMARY KEY("user_key","scope_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"user_key" text PRIMARY KEY NOT NULL,
	"platform" text NOT NULL,
	"workspace_id" text,
	"platform_user_id" text NOT NULL,
	"display_name" text,
	"share_profile" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "candidates" ADD CONSTRAINT "candidates_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "embeddings" ADD CONSTRAINT "embeddings_image_id_images_id_fk" FOREIGN KEY ("image_id") REFERENCES "public"."images"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_iterations" ADD CONSTRAINT "run_iterations_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "images_source_idx" ON "images" USING btree ("source");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_key_idx" ON "outbox" USING btree ("key");--> statement-breakpoint
CREATE INDEX "outbox_run_idx" ON "outbox" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "platform_messages_event_key_idx" ON "platform_messages" USING btree ("platform","event_key");--> statement-breakpoint
CREATE INDEX "rating_events_user_idx" ON "rating_events" USING btree ("user_key","image_id");--> statement-breakpoint
CREATE INDEX "ratings_image_idx" ON "ratings" USING btree ("image_id");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_request_key_idx" ON "runs" USING btree ("request_key");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_one_active_per_user_idx" ON "runs" USING btree ("user_key") WHERE status in ('queued','running');--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "usage_user_idx" ON "usage" USING btree ("user_key","created_at");--> statement-breakpoint
CREATE INDEX "usage_scope_idx" ON "usage" USING btree ("scope_id","created_at");