/**
 * The embedded store's request charge: a deterministic unit shaped like Cosmos RUs, so
 * dashboards and cost tests read the same on both adapters (not a measurement).
 */
export const charge = {
  read: 1,
  readMany: (found: number) => Math.max(1, found),
  /** Of a document's JSON: n UTF-16 units are at most 3n bytes, so short ones need no byte count. */
  write: (json: string) =>
    json.length * 3 < 1024 ? 5 : 5 + Math.floor(Buffer.byteLength(json) / 1024),
  delete: 5,
  patch: (ops: number) => 6 + ops * 0.5,
  query: (rows: number) => 2 + rows,
  changes: (rows: number) => 1 + rows,
};
