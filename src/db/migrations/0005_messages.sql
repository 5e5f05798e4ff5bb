-- A deploy's message (`sprout deploy --message`), shown in lists and the log (issue 8).
ALTER TABLE `deployments` ADD `message` text;
