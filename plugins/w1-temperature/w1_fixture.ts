/** For tests: a sysfs tree of w1 sensors in a temp folder. */
/** A sysfs tree: bus/w1/devices/<id> links into devices/w1_bus_master1/<id>, as the kernel has it. */
export async function w1Tree(sensors: Record<string, Record<string, string>>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "w1-sys-" });
  await Deno.mkdir(`${root}/bus/w1/devices`, { recursive: true });
  for (const [id, files] of Object.entries(sensors)) {
    const real = `${root}/devices/w1_bus_master1/${id}`;
    await Deno.mkdir(real, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${real}/${name}`, text);
    }
    await Deno.symlink(`../../../devices/w1_bus_master1/${id}`, `${root}/bus/w1/devices/${id}`);
  }
  await Deno.mkdir(`${root}/devices/w1_bus_master1/w1_bus_master1`, { recursive: true });
  await Deno.symlink(
    "../../../devices/w1_bus_master1/w1_bus_master1",
    `${root}/bus/w1/devices/w1_bus_master1`,
  );
  return root;
}
