import { GraphQLError, Kind } from 'graphql';
import { matchesWithin } from '../lib/validate.ts';
import { builder } from './builder.ts';

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

builder.scalarType('DateTime', {
  description: 'An instant in time, as an ISO 8601 string in UTC.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    if (typeof value !== 'string' || !matchesWithin(value, 40, DATE_TIME)) {
      throw new GraphQLError('DateTime must be an ISO 8601 string with a time zone, e.g. 2026-01-31T12:00:00Z.');
    }
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime is not a valid date.');
    return date;
  },
});

const DECIMAL = /^-?\d{1,12}(\.\d{1,4})?$/;

builder.scalarType('Decimal', {
  description: 'An exact decimal number (money, rates), as a string such as "1234.50". Never a float.',
  serialize: (value) => value.toString(),
  parseValue: (value) => {
    if (typeof value !== 'string' || !matchesWithin(value, 20, DECIMAL)) {
      throw new GraphQLError('Decimal must be a string such as "1234.50" (up to 12 digits and 4 decimals).');
    }
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || !matchesWithin(ast.value, 20, DECIMAL)) {
      throw new GraphQLError('Decimal must be a string such as "1234.50" (up to 12 digits and 4 decimals).');
    }
    return ast.value;
  },
});

builder.scalarType('File', {
  description: 'An uploaded file, sent as a GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec). Input only.',
  serialize: () => {
    throw new GraphQLError('File is an input type only.');
  },
  parseValue: (value) => {
    // yoga's multipart parser hands over its own File implementation, not necessarily the global class.
    const file = value as Partial<File> | null;
    if (typeof file?.stream !== 'function' || typeof file.size !== 'number' || typeof file.type !== 'string') {
      throw new GraphQLError('File must be a file sent as a GraphQL multipart request.');
    }
    return value as File;
  },
  parseLiteral: () => {
    throw new GraphQLError('File must be a file sent as a GraphQL multipart request, not a literal.');
  },
});
