import { assertEquals } from "../runtime/testing/assert.ts";
import { logPipes } from "./recorders.ts";
import { LogTail, walkRecordings } from "./soak.ts";

Deno.test("soak disk walk: finished segments counted apart from the open ones in .incoming", async () => {
  const dir = await Deno.makeTempDir({ prefix: "soak-walk-" });
  try {
    const put = async (rel: string, bytes: number) => {
      const path = `${dir}/${rel}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, new Uint8Array(bytes));
    };
    await put("cam00/2026-12-07/10/100000.mp4", 300);
    await put("cam00/2026-12-07/10/100010.mp4", 500);
    await put("cam01/2026-12-07/11/110000.mp4", 200);
    await put("cam01/.incoming/00001.mp4", 70);
    await put("cam01/2026-12-07/11/notes.txt", 9);
    assertEquals(await walkRecordings(dir), {
      bytes: 1000,
      segments: 3,
      openBytes: 70,
      largest: 500,
    });
    assertEquals(await walkRecordings(`${dir}/nothing-yet`), {
      bytes: 0,
      segments: 0,
      openBytes: 0,
      largest: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("soak log tail: each call returns only the complete lines appended since", async () => {
  const path = await Deno.makeTempFile({ prefix: "soak-log-" });
  try {
    const tail = new LogTail(path);
    await Deno.writeTextFile(path, '{"msg":"a"}\n{"msg":"b"}\n{"msg":');
    assertEquals(await tail.lines(), ['{"msg":"a"}', '{"msg":"b"}']);
    assertEquals(await tail.lines(), [], "nothing new; the partial line waits");
    await Deno.writeTextFile(path, '"c"}\nµ\n', { append: true });
    assertEquals(await tail.lines(), ['{"msg":"c"}', "µ"]);
    assertEquals(await new LogTail(`${path}.missing`).lines(), []);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("daemon log pump: a child's lines are in the file while it still runs", async () => {
  const path = await Deno.makeTempFile({ prefix: "soak-pump-" });
  // The child prints, then waits on its stdin: it exits only when the test closes that.
  const child = new Deno.Command("bash", {
    args: ["-c", 'echo \'{"msg":"one"}\'; echo two >&2; read -r _'],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pumped = logPipes([child.stdout, child.stderr], path);
  try {
    const tail = new LogTail(path);
    const seen: string[] = [];
    const deadline = Date.now() + 20_000;
    while (seen.length < 2 && Date.now() < deadline) {
      seen.push(...await tail.lines());
      if (seen.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(seen.sort(), ['{"msg":"one"}', "two"].sort());
  } finally {
    await child.stdin.close();
    await child.status;
    await pumped;
    await Deno.remove(path);
  }
});
