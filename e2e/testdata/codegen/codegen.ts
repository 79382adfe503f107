// graphql-codegen's configuration for codegen_test.go. The schema is a
// running autoanalyst's URL, given as SCHEMA_URL: its endpoint
// (http://127.0.0.1:PORT/graphql, introspected over HTTP) or its published SDL
// (http://127.0.0.1:PORT/graphql/schema.graphql). The documents are
// operations.graphql. Two files are written to OUT_DIR: schema.ts, every type
// of the schema (the typescript plugin), and operations.ts, each operation's
// variables and result with the enums and inputs they use (typescript-operations,
// which since its version 6 stands alone: it no longer builds on the typescript
// plugin's output, so the two go to files of their own).
import type { CodegenConfig } from "@graphql-codegen/cli";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const outDir = env("OUT_DIR");

const config = {
  // Custom scalars as the schema's descriptions say they are: JSON is any JSON
  // value, Time an RFC 3339 string, Cursor an opaque string, Upload a file.
  scalars: {
    JSON: "unknown",
    Time: "string",
    Cursor: "string",
    Upload: "File",
  },
  // A scalar missing from the map above is an error, not `any`.
  strictScalars: true,
  // The schema's names as they are: LLMProvider, not LlmProvider; OPENAI, not
  // Openai.
  namingConvention: { typeNames: "keep", enumValues: "keep" },
};

const codegen: CodegenConfig = {
  overwrite: true,
  schema: env("SCHEMA_URL"),
  documents: "operations.graphql",
  generates: {
    [`${outDir}/schema.ts`]: { plugins: ["typescript"], config },
    [`${outDir}/operations.ts`]: { plugins: ["typescript-operations"], config },
  },
};

export default codegen;
