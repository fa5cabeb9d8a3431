import { AppError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return value.length === 36 && UUID.test(value);
}

/** Validates an id argument at the edge, so a malformed id is a clear input error rather than a database error. */
export function parseId(value: string, field = 'id'): string {
  if (!isUuid(value)) throw new AppError('BAD_USER_INPUT', `${field} must be a UUID.`, { field });
  return value.toLowerCase();
}
