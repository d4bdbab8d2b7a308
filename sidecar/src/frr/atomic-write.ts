// Writes a file so that readers (FRR at start, frr-reload.py) see the old or the new content,
// never a torn one: same-directory temp file, fsync, rename, fsync of the directory.

import fse from "fs-extra";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Mode of a new file (default 0640; umask does not apply). */
  readonly mode?: number;
  /**
   * Keep the file readable by whoever reads it now: copy owner, group and mode from `like` (default:
   * the file being replaced), or, when that does not exist, owner and group from the directory.
   * FRR's daemons run as `frr` and re-read frr.conf when they restart: a root-owned 0640 file
   * written by the (root) sidecar would leave a restarted bgpd without any configuration.
   */
  readonly preserveOwner?: boolean;
  readonly like?: string;
}

export async function writeFileAtomic(
  path: string,
  content: string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  await fse.ensureDir(dir);
  const owner = options.preserveOwner === true ? await ownerFor(options.like ?? path, dir) : undefined;
  const mode = owner?.mode ?? options.mode ?? 0o640;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = await fse.open(tmp, "w", mode);
  try {
    await fse.fchmod(fd, mode);
    if (owner !== undefined) await fchownBestEffort(fd, owner.uid, owner.gid);
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

interface Owner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number | undefined;
}

async function ownerFor(like: string, dir: string): Promise<Owner | undefined> {
  try {
    const st = await fse.stat(like);
    return { uid: st.uid, gid: st.gid, mode: st.mode & 0o777 };
  } catch {
    try {
      const st = await fse.stat(dir);
      return { uid: st.uid, gid: st.gid, mode: undefined };
    } catch {
      return undefined;
    }
  }
}

/** Only root (CAP_CHOWN) may give a file away; otherwise the file stays ours, as before. */
async function fchownBestEffort(fd: number, uid: number, gid: number): Promise<void> {
  try {
    await fse.fchown(fd, uid, gid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "EINVAL") throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await fse.open(dir, "r");
  try {
    await fse.fsync(fd);
  } finally {
    await fse.close(fd);
  }
}
