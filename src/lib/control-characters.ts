/**
 * C0 control characters no input may carry: NUL (which PostgreSQL cannot store in text) and the rest of C0 but the
 * tab, line feed and carriage return that multi-line fields take. Single-line fields refuse those three in their
 * own validators.
 */
const DISALLOWED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

export function hasDisallowedControl(text: string): boolean {
  return DISALLOWED.test(text);
}

/**
 * The path of the first string (or object key) in a JSON value that carries a disallowed control character, as a
 * list of keys; undefined when there is none. Walked with an explicit stack, so deep nesting cannot overflow.
 */
export function findDisallowedControl(value: unknown): string[] | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: current, path } = item;
    if (typeof current === 'string') {
      if (hasDisallowedControl(current)) return path;
    } else if (Array.isArray(current)) {
      for (const entry of current) stack.push({ value: entry, path });
    } else if (current !== null && typeof current === 'object') {
      for (const [key, entry] of Object.entries(current)) {
        if (hasDisallowedControl(key)) return path;
        stack.push({ value: entry, path: [...path, key] });
      }
    }
  }
  return undefined;
}
