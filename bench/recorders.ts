/**
 * The recorders the bench compares, as child processes it can measure and stop:
 * - ours: the daemon (`runtime/main.ts --config FILE`), a black box whose whole process tree counts;
 * - the baseline: one Frigate-style ffmpeg segmenter per stream, restarted by a watchdog the way
 *   Frigate's camera watchdog does (it polls every 10 s and restarts an ffmpeg that has exited);
 * - gst (diagnostic): the daemon's own pipeline descriptions, taken from its debug log, run by
 *   gst-launch-1.0, one process per stream: GStreamer's share of our cost without Deno;
 * - floor: floor_reader.ts, one Deno process that only receives every stream's bytes and appends
 *   them to a file: the least recording can cost on this runtime and machine.
 */

export type RecorderKind = "ours" | "baseline" | "gst" | "floor";

export interface Recorder {
  readonly kind: RecorderKind;
  /** Stream ids, in the order of the URLs given. */
  readonly streams: readonly string[];
  /** PIDs whose process trees are measured (current ones: the baseline restarts processes). */
  roots(): number[];
  /** The stream's segment files so far, in recording order. */
  files(stream: string): Promise<string[]>;
  /** Folder every segment of this recorder is under. */
  readonly dataDir: string;
  /** How many times a process had to be restarted (baseline watchdog). */
  restarts(): number;
  /** Last lines of the recorder's own log that are warnings or errors. */
  problems(): string[];
  /** Why the recorder cannot go on (its process exited), or null while it runs. */
  failure(): string | null;
  /** SIGTERM (the graceful stop of both), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_KEEP = 8 * 1024;

export function streamId(i: number): string {
  return `cam${String(i).padStart(2, "0")}`;
}

async function walkMp4(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`${dir}${rel}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries) {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory) out.push(...await walkMp4(dir, p));
    else if (e.isFile && e.name.endsWith(".mp4")) out.push(p);
  }
  return out;
}

async function waitOrKill(
  child: Deno.ChildProcess,
  graceMs: number,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((res) => {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
      res();
    }, graceMs);
  });
  await Promise.race([child.status, killed]);
  clearTimeout(timer);
  await child.status;
}

export interface OursOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly urls: readonly string[];
  readonly segmentSeconds: number;
  readonly remux?: "builtin" | "gstreamer";
  /** RTP over the RTSP connection (default) or over UDP. */
  readonly transport?: "tcp" | "udp";
  /** rtsps:// cameras: the CA file their certificates chain to (cameras[].caFile). */
  readonly caFile?: string;
  /** storage.maxBytes: the byte budget retention keeps recordings within; default none. */
  readonly maxBytes?: number;
  /** log.level; default debug (the gst side needs the pipeline lines debug adds). */
  readonly logLevel?: "debug" | "info";
  /** recording.thumbnails; default the daemon's own ("on-close"). */
  readonly thumbnails?: "on-close" | "on-demand";
}

/**
 * Appends every chunk of `streams` to a new file at `path` as it comes, one chunk after the
 * other; resolves when all streams ended and the file is closed. Never rejects. Not through
 * FsFile.writable: its writes reached the file only when it was closed (a 3 s child's lines all
 * appeared at its exit), and the soak and failure() read the daemon's log while it runs.
 */
export async function logPipes(
  streams: readonly ReadableStream<Uint8Array>[],
  path: string,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = Promise.resolve();
  const writeAll = async (chunk: Uint8Array) => {
    for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
  };
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) await (written = written.then(() => writeAll(chunk)));
  };
  try {
    await Promise.all(streams.map(pump));
  } catch { /* a stream broke or a write failed: what was written stays */ }
  file.close();
}

/** Starts the daemon with a generated config: one camera per URL, 127.0.0.1:0 for the API. */
export async function startOurs(o: OursOptions): Promise<Recorder> {
  const dataDir = `${o.workDir}/data`;
  const streams = o.urls.map((_, i) => streamId(i));
  const config = {
    device: { name: "bench" },
    storage: {
      dataDir,
      segmentSeconds: o.segmentSeconds,
      ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
    },
    http: { listen: "127.0.0.1:0" },
    // debug adds one line per pipeline start: its description, which the gst side reuses.
    log: { level: o.logLevel ?? "debug" },
    recording: {
      remux: o.remux ?? "builtin",
      ...(o.thumbnails !== undefined ? { thumbnails: o.thumbnails } : {}),
    },
    cameras: o.urls.map((url, i) => ({
      id: streamId(i),
      url,
      transport: o.transport ?? "tcp",
      codec: "h265",
      ...(o.caFile !== undefined ? { caFile: o.caFile } : {}),
    })),
  };
  const configPath = `${o.workDir}/config.json`;
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  const logPath = `${o.workDir}/daemon.log`;
  const child = new Deno.Command(Deno.execPath(), {
    // --allow-all rather than the start task's flags: the bench measures steady-state CPU, which
    // permission checks do not change, and must not break when the daemon needs a new permission.
    args: [
      "run",
      "--allow-all",
      "--unstable-net",
      `${o.repoRoot}/runtime/main.ts`,
      "--config",
      configPath,
    ],
    cwd: o.repoRoot,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pumped = logPipes([child.stdout, child.stderr], logPath);

  let exit: Deno.CommandStatus | null = null;
  child.status.then((st) => exit = st);
  const tail = (): string => {
    try {
      return Deno.readTextFileSync(logPath).trim().split("\n").slice(-12).join("\n");
    } catch {
      return "(no log)";
    }
  };

  return {
    kind: "ours",
    streams,
    dataDir,
    roots: () => [child.pid],
    restarts: () => 0,
    failure: () =>
      exit === null
        ? null
        : `the daemon exited with code ${exit.code}${exit.signal ? ` (${exit.signal})` : ""}; ` +
          `config ${configPath}; last lines of its log:\n${tail()}`,
    async files(stream: string): Promise<string[]> {
      const base = `${dataDir}/recordings/${stream}`;
      const all = await walkMp4(base);
      // Finished segments sort by time in their path (date/hour/name); files still in
      // .incoming (there should be none after a clean stop) come after them.
      const done = all.filter((p) => !p.includes("/.incoming/")).sort();
      const open = all.filter((p) => p.includes("/.incoming/")).sort();
      return [...done, ...open].map((p) => `${base}${p}`);
    },
    problems(): string[] {
      let text = "";
      try {
        text = Deno.readTextFileSync(logPath);
      } catch { /* no log yet */ }
      return text.split("\n").filter((l) => /"level":"(warn|error)"|error:|panic/i.test(l)).slice(
        -20,
      );
    },
    async stop(graceMs = 30_000): Promise<void> {
      await waitOrKill(child, graceMs);
      await pumped;
    },
  };
}

/**
 * The pipeline description the daemon logged (at debug level) for each camera, by camera id:
 * the first one of each, which is what ran unless the camera was restarted.
 */
export async function loggedPipelines(workDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text = "";
  try {
    text = await Deno.readTextFile(`${workDir}/daemon.log`);
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    if (!line.includes('"pipeline"')) continue;
    try {
      const j = JSON.parse(line) as { msg?: string; camera?: string; description?: string };
      if (j.msg === "pipeline" && j.camera && j.description && !out.has(j.camera)) {
        out.set(j.camera, j.description);
      }
    } catch { /* not a JSON line */ }
  }
  return out;
}

/** Splits a launch description into argv the way a shell would (gst-launch-1.0 re-joins them). */
export function launchArgv(description: string): string[] {
  const out: string[] = [];
  for (const m of description.matchAll(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g)) {
    out.push(
      m[0].replace(/"((?:[^"\\]|\\.)*)"/g, (_q, inner: string) => inner.replace(/\\(.)/g, "$1")),
    );
  }
  return out;
}

export interface GstOptions {
  readonly workDir: string;
  /** One daemon pipeline description per stream; its segment location is replaced. */
  readonly descriptions: readonly string[];
}

/** Runs each description with `gst-launch-1.0 -e` (SIGINT then sends EOS and closes the files). */
export async function startGstLaunch(o: GstOptions): Promise<Recorder> {
  const dataDir = `${o.workDir}/out`;
  const streams = o.descriptions.map((_, i) => streamId(i));
  const children: Deno.ChildProcess[] = [];
  const problems: string[] = [];
  const exited = new Set<number>();
  const drained: Promise<void>[] = [];
  for (let i = 0; i < o.descriptions.length; i++) {
    const dir = `${dataDir}/${streams[i]}`;
    await Deno.mkdir(dir, { recursive: true });
    const description = (o.descriptions[i] ?? "").replace(
      /location="[^"]*%05d\.mp4"/,
      `location="${dir}/%05d.mp4"`,
    );
    const child = new Deno.Command("gst-launch-1.0", {
      args: ["-e", "-q", ...launchArgv(description)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.push(child);
    let tail = "";
    const dec = new TextDecoder();
    const read = async (s: ReadableStream<Uint8Array>) => {
      for await (const c of s) tail = (tail + dec.decode(c, { stream: true })).slice(-STDERR_KEEP);
    };
    drained.push(
      Promise.all([read(child.stdout), read(child.stderr)]).then(() => {}).catch(() => {}),
      child.status.then((st) => {
        exited.add(child.pid);
        if (tail.trim() !== "" || st.code !== 0) {
          problems.push(
            `${streams[i]}: gst-launch exited with ${st.code}: ${tail.trim().slice(-300)}`,
          );
        }
      }),
    );
  }
  return {
    kind: "gst",
    streams,
    dataDir,
    roots: () => children.filter((c) => !exited.has(c.pid)).map((c) => c.pid),
    restarts: () => 0,
    failure: () =>
      exited.size === children.length && children.length > 0
        ? `every gst-launch-1.0 exited: ${problems.slice(-3).join(" | ")}`
        : null,
    async files(stream: string): Promise<string[]> {
      return (await walkMp4(`${dataDir}/${stream}`)).sort().map((p) => `${dataDir}/${stream}${p}`);
    },
    problems: () => problems.slice(-20),
    // The fragmented MP4 on disk survives a SIGKILL but for the fragment in flight.
    async stop(graceMs = 8_000): Promise<void> {
      await Promise.all(children.map((c) => waitOrKill(c, graceMs, "SIGINT")));
      await Promise.all(drained);
    },
  };
}

export interface BaselineOptions {
  readonly workDir: string;
  readonly urls: readonly string[];
  readonly segmentSeconds: number;
  /** Watchdog poll period; Frigate's camera watchdog waits 10 s between checks. */
  readonly watchdogSeconds: number;
  /** -rtsp_transport; default tcp. */
  readonly transport?: "tcp" | "udp";
}

/** The Frigate-style command of /work/shared/BASELINES.md for one stream. */
export function baselineArgs(
  url: string,
  outDir: string,
  segmentSeconds: number,
  transport: "tcp" | "udp" = "tcp",
): string[] {
  return [
    "-nostdin",
    "-loglevel",
    "error",
    "-avoid_negative_ts",
    "make_zero",
    "-fflags",
    "+genpts+discardcorrupt",
    "-rtsp_transport",
    transport,
    "-use_wallclock_as_timestamps",
    "1",
    "-timeout",
    "5000000",
    "-i",
    url,
    "-c",
    "copy",
    "-f",
    "segment",
    "-segment_time",
    String(segmentSeconds),
    "-segment_format",
    "mp4",
    "-reset_timestamps",
    "1",
    "-strftime",
    "1",
    "-an",
    `${outDir}/%Y%m%d%H%M%S.mp4`,
  ];
}

interface FfmpegRun {
  readonly child: Deno.ChildProcess;
  exited: boolean;
  stderr: string;
}

/** Starts one ffmpeg segmenter per URL, with a watchdog that restarts the ones that exit. */
export async function startBaseline(o: BaselineOptions): Promise<Recorder> {
  const dataDir = `${o.workDir}/out`;
  const streams = o.urls.map((_, i) => streamId(i));
  for (const s of streams) await Deno.mkdir(`${dataDir}/${s}`, { recursive: true });
  const runs: FfmpegRun[] = [];
  const problems: string[] = [];
  let restarts = 0;
  let stopping = false;
  const finished: Promise<void>[] = [];

  const spawn = (i: number): FfmpegRun => {
    const child = new Deno.Command("ffmpeg", {
      args: baselineArgs(
        o.urls[i] ?? "",
        `${dataDir}/${streams[i]}`,
        o.segmentSeconds,
        o.transport,
      ),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const run: FfmpegRun = { child, exited: false, stderr: "" };
    const dec = new TextDecoder();
    finished.push(
      (async () => {
        for await (const chunk of child.stderr) {
          run.stderr = (run.stderr + dec.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
        }
      })().catch(() => {}),
      child.status.then((s) => {
        run.exited = true;
        // ffmpeg exits 255 after a SIGTERM it handled; only its words count then.
        if (!stopping || run.stderr.trim() !== "") {
          const tail = run.stderr.trim().split("\n").slice(-3).join(" | ");
          problems.push(`${streams[i]}: ffmpeg exited with ${s.code}${tail ? `: ${tail}` : ""}`);
        }
      }),
    );
    return run;
  };
  for (let i = 0; i < o.urls.length; i++) runs.push(spawn(i));

  const watchdog = setInterval(() => {
    if (stopping) return;
    for (let i = 0; i < runs.length; i++) {
      if (runs[i]?.exited) {
        restarts++;
        runs[i] = spawn(i);
      }
    }
  }, o.watchdogSeconds * 1000);

  return {
    kind: "baseline",
    streams,
    dataDir,
    roots: () => runs.filter((r) => !r.exited).map((r) => r.child.pid),
    restarts: () => restarts,
    failure: () => null,
    async files(stream: string): Promise<string[]> {
      return (await walkMp4(`${dataDir}/${stream}`)).sort().map((p) => `${dataDir}/${stream}${p}`);
    },
    problems: () => problems.slice(-20),
    async stop(graceMs = 15_000): Promise<void> {
      stopping = true;
      clearInterval(watchdog);
      await Promise.all(
        runs.map((r) => r.exited ? Promise.resolve() : waitOrKill(r.child, graceMs)),
      );
      await Promise.all(finished);
    },
  };
}

export interface FloorOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly urls: readonly string[];
  readonly transport: "tcp" | "udp" | "tls";
  readonly caFile?: string;
}

/** Starts floor_reader.ts on every URL: one process, one file per stream. */
export async function startFloor(o: FloorOptions): Promise<Recorder> {
  const dataDir = `${o.workDir}/out`;
  await Deno.mkdir(dataDir, { recursive: true });
  const streams = o.urls.map((_, i) => streamId(i));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-net",
      `${o.repoRoot}/bench/floor_reader.ts`,
      "--out",
      dataDir,
      "--transport",
      o.transport,
      ...(o.caFile !== undefined ? ["--ca", o.caFile] : []),
      ...o.urls,
    ],
    cwd: o.repoRoot,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const dec = new TextDecoder();
  const read = (async () => {
    for await (const chunk of child.stderr) {
      stderr = (stderr + dec.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
    }
  })().catch(() => {});
  let exit: Deno.CommandStatus | null = null;
  child.status.then((st) => exit = st);
  return {
    kind: "floor",
    streams,
    dataDir,
    roots: () => [child.pid],
    restarts: () => 0,
    failure: () =>
      exit === null ? null : `the floor reader exited with code ${exit.code}: ${stderr.trim()}`,
    async files(stream: string): Promise<string[]> {
      const path = `${dataDir}/${stream}.bin`;
      return await Deno.stat(path).then(() => [path], () => []);
    },
    problems: () => stderr.trim() === "" ? [] : stderr.trim().split("\n").slice(-20),
    async stop(graceMs = 5_000): Promise<void> {
      await waitOrKill(child, graceMs);
      await read;
    },
  };
}
