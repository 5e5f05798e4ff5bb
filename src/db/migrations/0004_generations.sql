-- Desired state per site, ordered by a generation that only grows (issue: cluster convergence).
ALTER TABLE `sites` ADD `generation` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `sites` ADD `desired_deployment_id` text;
--> statement-breakpoint
ALTER TABLE `placements` ADD `applied_generation` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
UPDATE `sites` SET `desired_deployment_id` = `production_deployment_id`;
