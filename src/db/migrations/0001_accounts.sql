-- API tokens get a scope, an optional list of sites (JSON array) and an optional expiry.
ALTER TABLE `api_tokens` ADD `scope` text DEFAULT 'deploy' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `sites` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `expires_at` text;--> statement-breakpoint
-- Exactly one admin. Registration used to race (several concurrent first users all became admin);
-- keep the earliest and demote the others before the index makes a second admin impossible.
UPDATE `users` SET `is_admin` = 0 WHERE `is_admin` = 1 AND `id` <> (SELECT `id` FROM `users` WHERE `is_admin` = 1 ORDER BY `created_at`, `id` LIMIT 1);--> statement-breakpoint
CREATE UNIQUE INDEX `users_one_admin` ON `users` (`is_admin`) WHERE `is_admin` = 1;
