import { AppError } from './errors.ts';

/** Trimmed text of a bounded length, or a BAD_USER_INPUT naming the field. */
export function text(value: string, field: string, limits: { min?: number; max: number; pattern?: RegExp; hint?: string }): string {
  const trimmed = value.trim();
  const min = limits.min ?? 1;
  if (trimmed.length < min || trimmed.length > limits.max) {
    throw new AppError('BAD_USER_INPUT', `${field} must be ${min} to ${limits.max} characters.`, { field });
  }
  if (limits.pattern && !limits.pattern.test(trimmed)) {
    throw new AppError('BAD_USER_INPUT', limits.hint ?? `${field} has an invalid format.`, { field });
  }
  return trimmed;
}

/** Like `text`, for optional fields: null/undefined/blank become null. */
export function optionalText(value: string | null | undefined, field: string, limits: { max: number; pattern?: RegExp; hint?: string }): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  return text(value, field, { ...limits, min: 1 });
}

export function integerInRange(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError('BAD_USER_INPUT', `${field} must be a whole number from ${min} to ${max}.`, { field });
  }
  return value;
}

/** Money as an exact decimal string with at most two decimals, never negative. */
export function money(value: string, field: string): string {
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(value)) {
    throw new AppError('BAD_USER_INPUT', `${field} must be an amount such as "1234.50" (not negative, at most 2 decimals).`, { field });
  }
  return value;
}
