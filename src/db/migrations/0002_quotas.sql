-- Per-user quota overrides set by an admin (NULL: the master's --quota-* default applies), and the
-- indexes the quota checks and the abandoned-upload job read through.
CREATE TABLE `user_quotas` (
	`user_id` text PRIMARY KEY NOT NULL,
	`sites` integer,
	`deploys_per_hour` integer,
	`bytes` integer,
	`files_per_deployment` integer,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployments_creator_created` ON `deployments` (`creator_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `deployments_status_created` ON `deployments` (`status`,`created_at`);
