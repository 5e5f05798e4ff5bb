-- Who did what, from where (operations issue: audit log).
ALTER TABLE `audit_log` ADD `ip` text;
--> statement-breakpoint
ALTER TABLE `audit_log` ADD `outcome` text DEFAULT 'ok' NOT NULL;
--> statement-breakpoint
CREATE INDEX `audit_log_at` ON `audit_log` (`at`);
