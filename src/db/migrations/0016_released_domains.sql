-- Who had each custom domain verified, and who owned each site name, kept after the claim or the
-- site is gone. A site name is free again once its site is deleted, while DNS often still points
-- at `<site>.<domain>` (the CNAME of a domain that was verified, or a wildcard CNAME in the
-- owner's zone): without these, whoever created a site of that name next would prove such names by
-- that CNAME and get their traffic and certificates. Another account must prove them with its TXT
-- record (services/domains.ts). Triggers, so every way a row goes (including the cascade of a
-- site's deletion) is recorded.
CREATE TABLE `released_domains` (
	`name` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`released_at` text NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER `domains_released` AFTER DELETE ON `domains` WHEN OLD.`verified_at` IS NOT NULL
BEGIN
	INSERT INTO `released_domains` (`name`, `owner_id`, `released_at`)
	VALUES (OLD.`name`, OLD.`owner_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	ON CONFLICT (`name`) DO UPDATE SET `owner_id` = excluded.`owner_id`, `released_at` = excluded.`released_at`;
END;
--> statement-breakpoint
CREATE TABLE `released_sites` (
	`name` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`released_at` text NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER `sites_released` AFTER DELETE ON `sites`
BEGIN
	INSERT INTO `released_sites` (`name`, `owner_id`, `released_at`)
	VALUES (OLD.`name`, OLD.`owner_id`, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	ON CONFLICT (`name`) DO UPDATE SET `owner_id` = excluded.`owner_id`, `released_at` = excluded.`released_at`;
END;
