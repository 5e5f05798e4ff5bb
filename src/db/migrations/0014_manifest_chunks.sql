-- Manifests are stored once per distinct chunk (shared/manifest-chunks.ts), not per deployment: a
-- deployment lists its chunks in order. Rows made before this keep their JSON in `manifest` until the
-- master's first start converts them (ManifestStore.convertLegacy), which empties that column.
CREATE TABLE `manifest_chunks` (
	`digest` text PRIMARY KEY NOT NULL,
	`entries` text NOT NULL,
	`files` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `deployment_chunks` (
	`deployment_id` text NOT NULL REFERENCES `deployments`(`id`) ON DELETE cascade,
	`seq` integer NOT NULL,
	`digest` text NOT NULL,
	PRIMARY KEY(`deployment_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `deployment_chunks_digest` ON `deployment_chunks` (`digest`);
