/** The product version, shown by `sfpemu --version` and GET /api/v1/health. */
export const VERSION = "0.1.0";
