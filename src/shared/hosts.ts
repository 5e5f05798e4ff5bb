/** productionHost is where a site's production deployment is served. */
export const productionHost = (site: string, domain: string) => `${site}.${domain}`;

/** previewHost is where one deployment is served forever: `<deployment-id>--<site>.<domain>`. */
export const previewHost = (deploymentId: string, site: string, domain: string) => `${deploymentId}--${site}.${domain}`;
