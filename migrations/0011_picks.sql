-- Picks (/rate mode:pick, core/picks.ts): a set of four images offered together (pick_offers, what a
-- pick control points at), and each person's pick on it: the winner over each of the other images
-- (three pairwise preferences the scorer fits with its ratings: core/scorer/pairwise.ts). One pick per
-- person per offer: picking again replaces it. A forget deletes the person's picks, and every offer
-- (with its picks) that shows an image the forget deleted.
CREATE TABLE "pick_offers" (
	"id" text PRIMARY KEY NOT NULL,
	"image_ids" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
CREATE TABLE "picks" (
	"offer_id" text NOT NULL REFERENCES "pick_offers"("id") ON DELETE CASCADE,
	"user_key" text NOT NULL,
	"winner_image_id" text NOT NULL,
	"loser_image_ids" text[] NOT NULL,
	"source" text NOT NULL,
	"picked_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "picks_offer_id_user_key_pk" PRIMARY KEY("offer_id","user_key")
);--> statement-breakpoint
CREATE INDEX "picks_user_idx" ON "picks" USING btree ("user_key");
