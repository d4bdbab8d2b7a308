// Writes a file so that readers (FRR at start, frr-reload.py) see the old or the new content,
// never a torn one: same-directory temp file, fsync, rename, fsync of the directory.

import fse from "fs-extra";
import { basename, dirname, join } from "node:path";

export async function writeFileAtomic(path: string, content: string, mode = 0o640): Promise<void> {
  const dir = dirname(path);
  await fse.ensureDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = await fse.open(tmp, "w", mode);
  try {
    await fse.write(fd, content);
    await fse.fsync(fd);
  } finally {
    await fse.close(fd);
  }
  try {
    await fse.rename(tmp, path);
  } catch (err) {
    await fse.remove(tmp);
    throw err;
  }
  await fsyncDir(dir);
}

/** Moves an already written file into place atomically (same filesystem). */
export async function renameAtomic(from: string, to: string): Promise<void> {
  await fse.rename(from, to);
  await fsyncDir(dirname(to));
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await fse.open(dir, "r");
  try {
    await fse.fsync(fd);
  } finally {
    await fse.close(fd);
  }
}
