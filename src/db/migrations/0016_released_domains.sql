-- The last account that had each custom domain verified, kept after its claim is gone (removed, its
-- site deleted, moved to another account by TXT proof). A site name is free again once its site is
-- deleted, and the domain's DNS often still points at `<site>.<domain>`: without this, whoever
-- created a site of that name next would prove the domain by that CNAME and get its traffic and a
-- certificate. Another account must prove such a name with its TXT record (services/domains.ts).
-- A trigger, so every way a claim ends (including the cascade of a site's deletion) is recorded.
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
