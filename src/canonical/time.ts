/** ISO 8601 UTC for a timestamp from either engine (pg and PGlite return Date; strings pass through). */
export function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}

export const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

/**
 * Canonical timestamps are stamped at millisecond precision so they equal their ISO copies in
 * the projections exactly (keyset cursors compare the two).
 */
export const NOW_MS = `date_trunc('milliseconds', clock_timestamp())`;
