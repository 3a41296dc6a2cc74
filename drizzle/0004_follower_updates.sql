CREATE TABLE `follower_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`primary_url` text NOT NULL,
	`sovereign_id` text NOT NULL,
	`pinned_keys` text NOT NULL,
	`pinned_by` text NOT NULL,
	`pinned_at` text NOT NULL,
	`applied_sequence` integer DEFAULT 0 NOT NULL,
	`applied_hash` text,
	`applied_issued_at` text,
	`next_update` text,
	`declaration` text,
	`applied_at` text
);
--> statement-breakpoint
CREATE TABLE `follower_updates` (
	`sequence` integer PRIMARY KEY NOT NULL,
	`update_hash` text NOT NULL,
	`issued_at` text NOT NULL,
	`next_update` text NOT NULL,
	`body` text NOT NULL,
	`watermark` text
);
