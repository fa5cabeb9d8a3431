import { AppError } from '../lib/errors.ts';

/**
 * The largest page any connection serves (documented in docs/graphql.md). A larger `first` or `last` is refused, not
 * quietly cut down, so a client never mistakes a short page for the end of the list.
 */
export const MAX_PAGE_SIZE = 100;
/** The page a connection serves when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 20;

interface PageArgs {
  first?: number | null;
  last?: number | null;
}

/**
 * Pothos asks each connection for its largest page with the field's arguments, before any row is read: this is where
 * an oversized page is refused (BAD_USER_INPUT, reason PAGE_TOO_LARGE, the argument as `field`). Negative sizes are
 * refused by Pothos itself (INVALID_PAGINATION, see src/graphql/errors.ts).
 */
function largestPage(args: PageArgs): number {
  for (const field of ['first', 'last'] as const) {
    const size = args[field];
    if (size !== null && size !== undefined && size > MAX_PAGE_SIZE) {
      throw new AppError('BAD_USER_INPUT', `${field} can be at most ${MAX_PAGE_SIZE}.`, { field, reason: 'PAGE_TOO_LARGE' });
    }
  }
  return MAX_PAGE_SIZE;
}

/** Page sizes for every connection: spread into `prismaConnection` and `relatedConnection` options. */
export const PAGE_SIZES = { defaultSize: DEFAULT_PAGE_SIZE, maxSize: largestPage } as const;

/** The description every `orderBy` value that sorts by creation carries: ids are UUIDv7, so the primary key orders them. */
export const CREATION_ORDER = {
  NEWEST_FIRST: { description: 'Newest first, by creation (the time-ordered id; served by the primary key).' },
  OLDEST_FIRST: { description: 'Oldest first, by creation (the time-ordered id; served by the primary key).' },
} as const;

export type CreationOrder = keyof typeof CREATION_ORDER;
