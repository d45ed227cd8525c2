// "Did you mean ...?" for names a user mistyped in a profile or an API call.

/** Edit distance between two short strings (Levenshtein, case-insensitive). */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known name closest to what was typed, when it is close enough to be a likely typo. */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(typed.length / 3)) + 1;
  for (const name of known) {
    // A longer or shorter spelling of a known name ("vendorRevision", "vendor") is a likely slip too.
    const lower = typed.toLowerCase();
    const prefix = lower.startsWith(name.toLowerCase()) || name.toLowerCase().startsWith(lower);
    const d = prefix && lower.length >= 3 ? 1 : distance(typed, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(typed: string, known: readonly string[]): string {
  const guess = closestName(typed, known);
  return guess === undefined ? "" : ` (did you mean "${guess}"?)`;
}
