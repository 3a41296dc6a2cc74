CREATE TABLE `admin_nonces` (
	`key_id` text NOT NULL,
	`nonce` text NOT NULL,
	`seen_at` text NOT NULL,
	PRIMARY KEY(`key_id`, `nonce`)
);
--> statement-breakpoint
CREATE INDEX `admin_nonces_seen_at` ON `admin_nonces` (`seen_at`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`occurred_at` text NOT NULL,
	`actor_type` text NOT NULL,
	`actor_key_id` text,
	`request_id` text,
	`canonical` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_event_id_unique` ON `audit_events` (`event_id`);--> statement-breakpoint
CREATE INDEX `audit_events_type_seq` ON `audit_events` (`event_type`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_occurred_at` ON `audit_events` (`occurred_at`);--> statement-breakpoint
CREATE INDEX `audit_events_actor_key` ON `audit_events` (`actor_key_id`,`seq`);--> statement-breakpoint
CREATE TABLE `authority_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `authority_signing_keys` (
	`key_id` text PRIMARY KEY NOT NULL,
	`public_key` text NOT NULL,
	`created_at` text NOT NULL,
	`not_after` text,
	`retired_at` text
);
--> statement-breakpoint
CREATE TABLE `attestation_revocations` (
	`attestation_id` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` text NOT NULL,
	`incident` text,
	`revoked_by_key_id` text,
	`log_index` integer NOT NULL,
	FOREIGN KEY (`attestation_id`) REFERENCES `attestations`(`attestation_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `attestations` (
	`attestation_id` text PRIMARY KEY NOT NULL,
	`issuer_sovereign_id` text NOT NULL,
	`subject_id` text NOT NULL,
	`issued_at` text NOT NULL,
	`valid_from` text NOT NULL,
	`expires_at` text NOT NULL,
	`issued_by` text NOT NULL,
	`authorized_by` text,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `attestations_subject` ON `attestations` (`subject_id`);--> statement-breakpoint
CREATE INDEX `attestations_authorized_by` ON `attestations` (`authorized_by`,`issued_at`);--> statement-breakpoint
CREATE TABLE `treaties` (
	`treaty_id` text PRIMARY KEY NOT NULL,
	`issuer_sovereign_id` text NOT NULL,
	`subject_sovereign_id` text NOT NULL,
	`issued_at` text NOT NULL,
	`valid_from` text NOT NULL,
	`expires_at` text NOT NULL,
	`issued_by` text NOT NULL,
	`authorized_by` text,
	`subject_profile` text DEFAULT 'accord/1' NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `treaties_subject` ON `treaties` (`subject_sovereign_id`,`expires_at`);--> statement-breakpoint
CREATE INDEX `treaties_issuer` ON `treaties` (`issuer_sovereign_id`);--> statement-breakpoint
CREATE INDEX `treaties_issued_order` ON `treaties` (`issued_at`,`treaty_id`);--> statement-breakpoint
CREATE INDEX `treaties_authorized_by` ON `treaties` (`authorized_by`,`issued_at`);--> statement-breakpoint
CREATE TABLE `treaty_revocations` (
	`treaty_id` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` text NOT NULL,
	`incident` text,
	`replaced_by` text,
	`revoked_by_key_id` text,
	`log_index` integer NOT NULL,
	FOREIGN KEY (`treaty_id`) REFERENCES `treaties`(`treaty_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `feed_equivocations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`issuer_sovereign_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`known_feed_hash` text,
	`conflicting_feed_hash` text NOT NULL,
	`conflicting_body` text NOT NULL,
	`detected_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `feed_equivocations_issuer` ON `feed_equivocations` (`issuer_sovereign_id`,`sequence`);--> statement-breakpoint
CREATE TABLE `feed_issuers` (
	`issuer_sovereign_id` text PRIMARY KEY NOT NULL,
	`last_sequence` integer DEFAULT 0 NOT NULL,
	`last_feed_hash` text,
	`last_issued_at` text,
	`next_update` text,
	`log_size` integer DEFAULT 0 NOT NULL,
	`frontier` text DEFAULT '[]' NOT NULL,
	`last_import_at` text,
	`paused` integer DEFAULT false NOT NULL,
	`paused_reason` text,
	`paused_at` text
);
--> statement-breakpoint
CREATE TABLE `feed_receipts` (
	`importer_sovereign_id` text PRIMARY KEY NOT NULL,
	`sequence` integer NOT NULL,
	`feed_hash` text NOT NULL,
	`received_at` text NOT NULL,
	`recorded_at` text NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `imported_feeds` (
	`issuer_sovereign_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`feed_hash` text NOT NULL,
	`body` text NOT NULL,
	`imported_at` text NOT NULL,
	`issued_at` text,
	`next_update` text,
	`log_size` integer,
	`frontier` text,
	PRIMARY KEY(`issuer_sovereign_id`, `sequence`)
);
--> statement-breakpoint
CREATE TABLE `imported_revocations` (
	`issuer_sovereign_id` text NOT NULL,
	`log_index` integer NOT NULL,
	`kind` text NOT NULL,
	`id` text NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` text NOT NULL,
	`subject_sovereign_id` text,
	`invalid_since` text,
	`incident` text,
	`feed_sequence` integer NOT NULL,
	PRIMARY KEY(`issuer_sovereign_id`, `log_index`)
);
--> statement-breakpoint
CREATE INDEX `imported_revocations_lookup` ON `imported_revocations` (`issuer_sovereign_id`,`kind`,`id`,`log_index`);--> statement-breakpoint
CREATE TABLE `peer_treaties` (
	`peer_sovereign_id` text NOT NULL,
	`treaty_id` text NOT NULL,
	`subject_sovereign_id` text NOT NULL,
	`valid_from` text NOT NULL,
	`expires_at` text NOT NULL,
	`body` text NOT NULL,
	`fetched_at` text NOT NULL,
	PRIMARY KEY(`peer_sovereign_id`, `treaty_id`)
);
--> statement-breakpoint
CREATE INDEX `peer_treaties_subject` ON `peer_treaties` (`subject_sovereign_id`);--> statement-breakpoint
CREATE TABLE `peers` (
	`sovereign_id` text PRIMARY KEY NOT NULL,
	`base_url` text NOT NULL,
	`profile` text,
	`created_at` text NOT NULL,
	`last_attempt_at` text,
	`last_success_at` text,
	`last_error` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text,
	`receipt_sequence` integer DEFAULT 0 NOT NULL,
	`treaties_synced_at` text
);
--> statement-breakpoint
CREATE TABLE `published_feeds` (
	`sequence` integer PRIMARY KEY NOT NULL,
	`feed_id` text NOT NULL,
	`feed_hash` text NOT NULL,
	`issued_at` text NOT NULL,
	`next_update` text NOT NULL,
	`first_index` integer NOT NULL,
	`entry_count` integer NOT NULL,
	`log_size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`body` text NOT NULL,
	`frontier` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `published_feeds_feed_id_unique` ON `published_feeds` (`feed_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `published_feeds_feed_hash_unique` ON `published_feeds` (`feed_hash`);--> statement-breakpoint
CREATE TABLE `revocation_log` (
	`idx` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`id` text NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` text NOT NULL,
	`entry` text NOT NULL,
	`leaf_hash` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `revocation_log_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`frontier` text NOT NULL,
	`root_hash` text NOT NULL
);
