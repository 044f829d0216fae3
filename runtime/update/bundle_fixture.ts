/**
 * Test helper: real signed RAUC bundles, made with `openssl` (a self-signed key pair) and
 * `rauc bundle` (a manifest and one small image). Needs both programs installed.
 */

export interface SigningKey {
  readonly cert: string;
  readonly key: string;
}

async function run(program: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A self-signed certificate and its key in `dir`, named after `name`. */
export async function makeSigningKey(dir: string, name: string): Promise<SigningKey> {
  const cert = `${dir}/${name}.cert.pem`;
  const key = `${dir}/${name}.key.pem`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-subj",
    `/CN=${name}`,
    "-days",
    "30",
  ]); // deno-fmt-ignore
  return { cert, key };
}

/** A signed verity bundle at `<dir>/<name>.raucb` with one 8 KiB image. */
export async function makeBundle(
  dir: string,
  name: string,
  opts: { signer: SigningKey; compatible: string; version: string },
): Promise<string> {
  const content = `${dir}/${name}.content`;
  await Deno.mkdir(content, { recursive: true });
  // squashfs must be larger than 4 KiB: random bytes do not compress.
  await Deno.writeFile(`${content}/rootfs.img`, crypto.getRandomValues(new Uint8Array(8192)));
  await Deno.writeTextFile(
    `${content}/manifest.raucm`,
    `[update]\ncompatible=${opts.compatible}\nversion=${opts.version}\n\n[bundle]\nformat=verity\n\n` +
      "[image.rootfs]\nfilename=rootfs.img\n",
  );
  const bundle = `${dir}/${name}.raucb`;
  await run("rauc", [
    "bundle",
    `--cert=${opts.signer.cert}`,
    `--key=${opts.signer.key}`,
    content,
    bundle,
  ]);
  await Deno.remove(content, { recursive: true });
  return bundle;
}
