ALTER TABLE `feed_issuers` ADD `last_signed_hash` text;--> statement-breakpoint
ALTER TABLE `imported_feeds` ADD `signed_hash` text;--> statement-breakpoint
ALTER TABLE `published_feeds` ADD `signed_hash` text;