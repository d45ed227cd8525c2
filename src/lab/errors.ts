// What the lab refuses, and why: the API turns `code` into an HTTP status (404, 409, 422).

export type LabErrorCode = "not_found" | "conflict" | "invalid";

export class LabError extends Error {
  override name = "LabError";
  constructor(readonly code: LabErrorCode, message: string, readonly path?: string) {
    super(message);
  }
}
