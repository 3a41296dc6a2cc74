CREATE TABLE `log_cosignatures` (
	`sequence` integer NOT NULL,
	`witness` text NOT NULL,
	`key_id` text NOT NULL,
	`timestamp` integer NOT NULL,
	`line` text NOT NULL,
	`received_at` text NOT NULL,
	PRIMARY KEY(`sequence`, `witness`, `key_id`)
);
--> statement-breakpoint
CREATE TABLE `log_witnesses` (
	`name` text PRIMARY KEY NOT NULL,
	`known_size` integer,
	`last_attempt_at` text,
	`last_success_at` text,
	`last_reason` text,
	`last_error` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text
);
--> statement-breakpoint
CREATE TABLE `witness_checkpoints` (
	`origin` text PRIMARY KEY NOT NULL,
	`sovereign_id` text NOT NULL,
	`size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`note` text NOT NULL,
	`timestamp` integer NOT NULL,
	`cosigned_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `witness_conflicts` (
	`evidence_hash` text PRIMARY KEY NOT NULL,
	`origin` text NOT NULL,
	`sovereign_id` text NOT NULL,
	`problem` text NOT NULL,
	`cosigned_size` integer NOT NULL,
	`cosigned_root` text NOT NULL,
	`cosigned_note` text NOT NULL,
	`old_size` integer NOT NULL,
	`submitted_size` integer NOT NULL,
	`submitted_root` text NOT NULL,
	`submitted_note` text NOT NULL,
	`proof` text NOT NULL,
	`detected_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `witness_conflicts_origin` ON `witness_conflicts` (`origin`,`detected_at`);--> statement-breakpoint
CREATE TABLE `witness_logs` (
	`sovereign_id` text PRIMARY KEY NOT NULL,
	`origin` text NOT NULL,
	`enabled` integer NOT NULL,
	`enabled_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `witness_logs_origin_unique` ON `witness_logs` (`origin`);