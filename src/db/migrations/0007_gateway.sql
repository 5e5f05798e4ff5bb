-- Issue 10 (the visitor path): agents have a role (a node stores and serves sites; a gateway load
-- balances visitors to the nodes), sites have custom domains verified by DNS, and verified domains
-- get ACME certificates.
ALTER TABLE `agents` ADD `role` text DEFAULT 'node' NOT NULL;
--> statement-breakpoint
CREATE TABLE `domains` (
  `id` text PRIMARY KEY NOT NULL,
  `name` text NOT NULL,
  `site_id` text NOT NULL REFERENCES `sites`(`id`) ON DELETE CASCADE,
  `owner_id` text NOT NULL REFERENCES `users`(`id`) ON DELETE CASCADE,
  `status` text DEFAULT 'pending' NOT NULL,
  `verify_token` text NOT NULL,
  `needs_txt` integer DEFAULT 0 NOT NULL,
  `last_error` text,
  `checked_at` text,
  `verified_at` text,
  `created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `domains_name_site` ON `domains` (`name`, `site_id`);
--> statement-breakpoint
CREATE INDEX `domains_site` ON `domains` (`site_id`);
--> statement-breakpoint
CREATE TABLE `certificates` (
  `domain_id` text PRIMARY KEY NOT NULL REFERENCES `domains`(`id`) ON DELETE CASCADE,
  `status` text DEFAULT 'pending' NOT NULL,
  `cert_pem` text,
  `key_pem` text,
  `expires_at` text,
  `last_error` text,
  `attempts` integer DEFAULT 0 NOT NULL,
  `next_attempt_at` text,
  `updated_at` text NOT NULL
);
