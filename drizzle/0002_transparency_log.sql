CREATE TABLE `issuer_log_proofs` (
	`issuer_sovereign_id` text PRIMARY KEY NOT NULL,
	`required_since` text NOT NULL,
	`last_verified_size` integer NOT NULL,
	`last_verified_at` text NOT NULL,
	`last_checkpoint` text,
	`last_checkpoint_size` integer
);
--> statement-breakpoint
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
CREATE TABLE `log_consistency_failures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`issuer_sovereign_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`from_size` integer NOT NULL,
	`from_root` text NOT NULL,
	`to_size` integer NOT NULL,
	`to_root` text NOT NULL,
	`proof` text,
	`checkpoint` text,
	`problem` text NOT NULL,
	`detected_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `log_consistency_failures_issuer` ON `log_consistency_failures` (`issuer_sovereign_id`,`sequence`);--> statement-breakpoint
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