// One small helper every part of the manager shares: optional fields stay absent rather than present
// and undefined (exactOptionalPropertyTypes-friendly rows, and JSON answers stay small).

/** Drops undefined members. */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
