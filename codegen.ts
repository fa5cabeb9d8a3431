import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed operations for the tests: every `.graphql` file under test/operations becomes a TypedDocumentNode in
// test/generated, checked against the printed schema.graphql.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', Decimal: 'string', File: 'File' },
        strictScalars: true,
      },
    },
  },
  hooks: {},
};

export default config;
