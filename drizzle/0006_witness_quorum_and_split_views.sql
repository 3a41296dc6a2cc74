CREATE TABLE `witness_quorum_policies` (
	`issuer_sovereign_id` text PRIMARY KEY NOT NULL,
	`quorum` integer NOT NULL,
	`witnesses` text NOT NULL,
	`updated_at` text NOT NULL,
	`awaiting_since` text,
	`awaiting_sequence` integer
);
--> statement-breakpoint
CREATE TABLE `split_view_deliveries` (
	`evidence_hash` text NOT NULL,
	`peer_sovereign_id` text NOT NULL,
	`url` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_attempt_at` text,
	`next_attempt_at` text,
	`last_error` text,
	`answer` text,
	PRIMARY KEY(`evidence_hash`, `peer_sovereign_id`)
);
--> statement-breakpoint
CREATE INDEX `split_view_deliveries_status` ON `split_view_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `split_view_evidence` (
	`evidence_hash` text PRIMARY KEY NOT NULL,
	`issuer_sovereign_id` text NOT NULL,
	`origin` text NOT NULL,
	`problem` text NOT NULL,
	`first_size` integer NOT NULL,
	`first_root` text NOT NULL,
	`first_note` text NOT NULL,
	`second_size` integer NOT NULL,
	`second_root` text NOT NULL,
	`second_note` text NOT NULL,
	`proof` text NOT NULL,
	`implied_root` text,
	`source` text NOT NULL,
	`source_detail` text,
	`detected_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `split_view_evidence_issuer` ON `split_view_evidence` (`issuer_sovereign_id`,`detected_at`);