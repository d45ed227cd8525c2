// "Did you mean ...?" for names a user mistyped in a profile, a fault or an API call.
import { closestName } from "../spelling/closest-name.ts";

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(typed: string, known: readonly string[]): string {
  const guess = closestName(typed, known);
  return guess === undefined ? "" : ` (did you mean "${guess}"?)`;
}
