// The upload's headers (see upload.ts), apart from its schemas so the CLI names them without
// loading the schema library at start.
export const UPLOAD_TOKEN_HEADER = "x-upload-token";
export const DEPLOYMENT_ID_HEADER = "x-deployment-id";
