-- Requests served per site and hour, summed over the nodes (operations issue: traffic per site).
CREATE TABLE `site_traffic` (
	`site_id` text NOT NULL REFERENCES `sites`(`id`) ON DELETE CASCADE,
	`hour` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`s2xx` integer DEFAULT 0 NOT NULL,
	`s3xx` integer DEFAULT 0 NOT NULL,
	`s4xx` integer DEFAULT 0 NOT NULL,
	`s5xx` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY (`site_id`, `hour`)
);
