CREATE TABLE `log_entry_bundles` (
	`idx` integer PRIMARY KEY NOT NULL,
	`bundle` blob NOT NULL
);
