// FA_LAB_FRR=image: the lab's node side takes FRR (daemons, vtysh, frr-reload.py) from the
// product's image instead of the host, so the e2e suites run on the image's FRR release (10.3)
// as well as the host's (8.4). Daemons run as podman containers in the node's network namespace
// with the host's PID namespace, so their pid files hold host PIDs the lab can signal as before.

import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..", "..");

/** The product's image (`npm run image`), for every test that runs it. */
export const IMAGE = process.env["FA_IMAGE"] ?? "localhost/frr-advertiser:dev";

/** The image whose FRR the node side runs, or undefined for the host's FRR. */
export const LAB_FRR_IMAGE: string | undefined = process.env["FA_LAB_FRR"] === "image" ? IMAGE : undefined;

// Process-wide in image mode: tests run the lab's argv (vtysh, frr-reload.py) with plain execa, and
// podman needs these settings on these machines (image/containers.conf).
if (LAB_FRR_IMAGE !== undefined) process.env["CONTAINERS_CONF"] ??= join(REPO, "image/containers.conf");

export const PODMAN_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  CONTAINERS_CONF: process.env["CONTAINERS_CONF"] ?? join(REPO, "image/containers.conf"),
};

let ids: { uid: number; gid: number } | undefined;

/** uid and gid of the image's frr user (its daemons drop to it; their dirs must be its own). */
export function imageFrrIds(image: string): { uid: number; gid: number } {
  if (ids !== undefined) return ids;
  const id = (flag: string): number =>
    Number(
      execFileSync("podman", ["run", "--rm", "--pull", "never", "--entrypoint", "id", image, flag, "frr"], {
        env: PODMAN_ENV,
        encoding: "utf8",
      }).trim(),
    );
  ids = { uid: id("-u"), gid: id("-g") };
  return ids;
}

/** The mounts every FRR process of the node side needs: its pathspace dirs and the lab's files. */
export function frrMounts(ns: string): string[] {
  return [
    "-v",
    `/var/run/frr/${ns}:/var/run/frr/${ns}`,
    "-v",
    `/etc/frr/${ns}:/etc/frr/${ns}`,
    // Lab dirs, configs and candidate files all live under the temp dir.
    "-v",
    "/tmp:/tmp",
  ];
}

/** argv that runs `program args…` from the image inside namespace `ns`. */
export function inImage(
  image: string,
  ns: string,
  program: string,
  args: readonly string[],
  opts: { detach?: boolean; name?: string } = {},
): string[] {
  return [
    "podman",
    "run",
    "--rm",
    ...(opts.detach === true ? ["-d"] : []),
    ...(opts.name === undefined ? [] : ["--name", opts.name]),
    "--pull",
    "never",
    "--pid",
    "host",
    "--network",
    `ns:/run/netns/${ns}`,
    "--cap-add",
    "NET_ADMIN,NET_RAW,SYS_ADMIN",
    ...frrMounts(ns),
    "--entrypoint",
    program,
    image,
    ...args,
  ];
}
