/**
 * Records whose fields a file spells otherwise than the code: metrics.jsonl and model.json keep the
 * snake_case names ganport has always written, while the code spells them in camelCase.
 */

/** For each field of T, its name in the file; the order of the entries is the order of the file's fields. */
export type FileFieldNames<T> = { readonly [K in keyof T]-?: string };

/** `record` under the file's names; fields it does not have stay out. */
export function toFileFields<T extends object>(record: Partial<T>, names: FileFieldNames<T>): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(names) as (keyof T)[])
      .filter((field) => record[field] !== undefined)
      .map((field) => [names[field], record[field]]),
  );
}

/** The fields of a record read from a file, under the code's names and not yet checked. */
export function fromFileFields<T>(record: object, names: FileFieldNames<T>): { [K in keyof T]?: unknown } {
  return Object.fromEntries(
    (Object.keys(names) as (keyof T)[])
      .filter((field) => names[field] in record)
      .map((field) => [field, (record as Record<string, unknown>)[names[field]]]),
  ) as { [K in keyof T]?: unknown };
}
