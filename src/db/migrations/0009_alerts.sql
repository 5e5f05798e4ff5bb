-- Alerts that are firing, so each fires once and resolves once, across master restarts.
CREATE TABLE `alerts` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`subject` text NOT NULL,
	`message` text NOT NULL,
	`fired_at` text NOT NULL
);
