/**
 * docs/security.md against the tests: every test named after an attack (a string literal that
 * starts with "attack:" in a `*_test.ts` file under runtime/, hw-tests/, firmware/ or plugins/, a
 * test or a step name) is on the page verbatim; every test the page's tables list is in the file
 * they name; nothing is left "TO COMPLETE". Pure file reading: no daemon, no network, no clock.
 */
import { assert, assertEquals } from "./testing/assert.ts";

const ROOT = new URL("../", import.meta.url);
const DOC = "docs/security.md";
const SELF = "runtime/security_doc_test.ts";
const PREFIX = "attack:";

/** Test files under `dir` (relative to the repository), as repository-relative paths. */
async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${dir}/`, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await testFiles(path));
    else if (entry.isFile && entry.name.endsWith("_test.ts")) out.push(path);
  }
  return out;
}

const QUOTED = /(["'])(attack:(?:\\.|(?!\1)[^\\\n])*)\1/g;
const TEMPLATE = /`(attack:(?:\\[\s\S]|[^\\`])*)`/g;

/** Every string literal starting with "attack:" in `source`, decoded; problems for the rest. */
function attackNames(source: string, file: string): { names: string[]; problems: string[] } {
  const names: string[] = [];
  const problems: string[] = [];
  const line = (index: number) => source.slice(0, index).split("\n").length;
  for (const m of source.matchAll(QUOTED)) {
    const [, quote, body = ""] = m;
    if (!body.includes("\\")) {
      names.push(body);
      continue;
    }
    try {
      names.push(
        quote === '"' ? JSON.parse(`"${body}"`) : JSON.parse(`"${body.replace(/\\'/g, "'")}"`),
      );
    } catch {
      problems.push(
        `${file}:${
          line(m.index)
        }: cannot read the escapes in ${quote}${body}${quote}; write the name without them`,
      );
    }
  }
  for (const m of source.matchAll(TEMPLATE)) {
    const body = m[1] ?? "";
    if (body.includes("${") || body.includes("\\")) {
      problems.push(
        `${file}:${line(m.index)}: an attack test's name is computed (\`${
          body.slice(0, 60)
        }…\`); write it as a plain string so docs/security.md can name it`,
      );
    } else {
      names.push(body);
    }
  }
  return { names, problems };
}

/** The rows of the page's tables whose last cell is a test file and the one before a code span. */
function listedTests(doc: string): { test: string; file: string; line: number }[] {
  const rows: { test: string; file: string; line: number }[] = [];
  doc.split("\n").forEach((text, i) => {
    if (!text.startsWith("|")) return;
    const cells = text.split("|").slice(1, -1).map((c) => c.trim());
    const file = cells.at(-1) ?? "";
    if (!file.endsWith("_test.ts")) return;
    const test = /^`([^`]+)`$/.exec(cells.at(-2) ?? "")?.[1];
    if (test !== undefined) rows.push({ test, file, line: i + 1 });
  });
  return rows;
}

Deno.test("docs/security.md names every attack test, and every test it lists exists where it says", async () => {
  const doc = await Deno.readTextFile(new URL(DOC, ROOT));
  const problems: string[] = [];
  if (doc.includes("TO COMPLETE")) {
    problems.push(`${DOC} still has a part marked TO COMPLETE; fill it in`);
  }

  const found = new Map<string, string>(); // attack test name → its file
  const roots = ["runtime", "hw-tests", "firmware", "plugins"];
  for (const file of (await Promise.all(roots.map(testFiles))).flat()) {
    if (file === SELF) continue;
    const source = await Deno.readTextFile(new URL(file, ROOT));
    if (!source.includes(PREFIX)) continue;
    const read = attackNames(source, file);
    problems.push(...read.problems);
    for (const name of read.names) found.set(name, file);
  }
  for (const [name, file] of found) {
    if (!doc.includes(name)) {
      problems.push(`${DOC} does not name the test '${name}' (${file}); add a row for it`);
    }
  }

  const rows = listedTests(doc);
  if (rows.length === 0) problems.push(`${DOC} has no table row naming a test and its file`);
  for (const row of rows) {
    const where = `${DOC}:${row.line}`;
    const source = await Deno.readTextFile(new URL(row.file, ROOT)).catch(() => null);
    if (source === null) problems.push(`${where}: ${row.file} does not exist`);
    else if (!source.includes(row.test)) {
      problems.push(`${where}: ${row.file} has no test '${row.test}'; correct the row`);
    } else if (row.test.startsWith(PREFIX) && found.get(row.test) !== row.file) {
      problems.push(`${where}: '${row.test}' is not a test name in ${row.file}`);
    }
  }
  assertEquals(problems, []);
});

Deno.test("attackNames: plain, escaped and computed names; listedTests: rows with a test and a file", () => {
  const p = PREFIX;
  const source = [
    `Deno.test("${p} plain one", () => {});`,
    `Deno.test(\n  "${p} on the next line — with a dash",\n  () => {},\n);`,
    `Deno.test({ name: '${p} single quotes', fn() {} });`,
    `t.step("${p} \\u0430 escaped", () => {});`,
    "Deno.test(`" + p + " template`, () => {});",
    "Deno.test(`" + p + " ${what}`, () => {});",
    `Deno.test("not an ${p} prefix", () => {});`,
  ].join("\n");
  const { names, problems } = attackNames(source, "x_test.ts");
  assertEquals(names, [
    `${p} plain one`,
    `${p} on the next line — with a dash`,
    `${p} single quotes`,
    `${p} \u0430 escaped`,
    `${p} template`,
  ]);
  assertEquals(problems.length, 1);
  assert(problems[0]?.startsWith("x_test.ts:9: "), problems[0]);

  const doc = [
    "| attack | test | file |",
    "| ------ | ---- | ---- |",
    "| a `code` word | `" + p + " one` | runtime/a_test.ts |",
    "| who | `Authorization: Bearer` | what |",
  ].join("\n");
  assertEquals(listedTests(doc), [{ test: `${p} one`, file: "runtime/a_test.ts", line: 3 }]);
});
