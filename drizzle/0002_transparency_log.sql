CREATE TABLE `log_checkpoints` (
	`sequence` integer PRIMARY KEY NOT NULL,
	`tree_size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`audit_seq` integer,
	`audit_hash` text,
	`note` text NOT NULL,
	`signed_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `log_tiles` (
	`level` integer NOT NULL,
	`idx` integer NOT NULL,
	`root` blob NOT NULL,
	`hashes` blob NOT NULL,
	`interior` blob NOT NULL,
	PRIMARY KEY(`level`, `idx`)
);
--> statement-breakpoint
CREATE INDEX `revocation_log_id` ON `revocation_log` (`id`,`idx`);