// Validates an AsyncAPI document with the official parser, given its text (as a registry or
// AsyncAPI Studio gets it: no file beside it to resolve references against).
// Usage: node validate_asyncapi.mjs FILE   (- for standard input)
// Prints one JSON line: {"errors": [...], "warnings": [...], "operations": N, "messages": N}.
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const file = process.argv[2];
const text = readFileSync(file === "-" ? 0 : file, "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
const show = (d) => ({ code: d.code, message: d.message, path: d.path.join("/") });
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map(show);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning).map(show);
process.stdout.write(JSON.stringify({
  errors,
  warnings,
  operations: document ? document.operations().length : 0,
  messages: document ? document.messages().length : 0,
}) + "\n");
