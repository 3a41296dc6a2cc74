CREATE TABLE `peer_declarations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`peer_sovereign_id` text NOT NULL,
	`profile` text NOT NULL,
	`url` text NOT NULL,
	`body` text NOT NULL,
	`body_hash` text NOT NULL,
	`keys` text NOT NULL,
	`signed_by` text NOT NULL,
	`observed_at` text NOT NULL,
	`last_seen_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `peer_declarations_peer` ON `peer_declarations` (`peer_sovereign_id`,`id`);--> statement-breakpoint
CREATE TABLE `peer_key_changes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`peer_sovereign_id` text NOT NULL,
	`kind` text NOT NULL,
	`previous_declaration_id` integer,
	`declaration_id` integer NOT NULL,
	`appeared` text NOT NULL,
	`disappeared` text NOT NULL,
	`pinned_key_ids` text NOT NULL,
	`detected_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `peer_key_changes_peer` ON `peer_key_changes` (`peer_sovereign_id`,`id`);--> statement-breakpoint
CREATE TABLE `peer_watch` (
	`peer_sovereign_id` text PRIMARY KEY NOT NULL,
	`declaration_checked_at` text,
	`declaration_error` text,
	`unresolved_keys` text DEFAULT '[]' NOT NULL,
	`contained_at` text,
	`contained_reason` text,
	`contained_by` text,
	`repinned_at` text,
	`verification_required` integer DEFAULT false NOT NULL,
	`verified_pull_at` text
);
