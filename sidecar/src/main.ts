// The entry point: picks the command and hands it the process's real I/O. Nothing else here
// (the live sidecar is built in compose.ts).

import { runRenderCommand, type CliIo } from "./cli/render-command.js";
import { installStopSignals } from "./stop-signals.js";

const USAGE = `frr-advertiser <command>

commands:
  render   print the frr.conf this node would get from a file of Kubernetes objects
  run      the long-running sidecar in the FRR pod
  why      why a Service is (not) advertised by this node, and what FRR sends each peer
  diff     what a render of the cluster (or candidate templates) would change in the running FRR
  test-templates
           run a template directory against its cases: render, FRR's parser, invariants, expected output

run "frr-advertiser <command> --help" for the options of a command`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io: CliIo = {
    stdout: (t: string) => process.stdout.write(t),
    stderr: (t: string) => process.stderr.write(t),
    stdin: readStdin,
    env: process.env,
  };
  switch (command) {
    case "render":
      return runRenderCommand(rest, io);
    case "run": {
      // First, before any wait (loading modules alone takes a second): a SIGTERM from here on
      // leads to a drain, never to Node's default action. See stop-signals.ts.
      const stop = installStopSignals();
      // Loaded lazily: `render` must work without the live-sidecar dependencies being touched.
      const { runRunCommand } = await import("./cli/run-command.js");
      const code = await runRunCommand(rest, io, stop);
      // `run` returns only after its drain: nothing is left to do, and a lingering handle (a
      // keep-alive socket to the API server, an in-flight metrics poll) must not keep the pod in
      // Terminating. Logs are written synchronously (stdout is a pipe or a file).
      return process.exit(code);
    }
    case "diff": {
      const { runDiffCommand } = await import("./cli/diff-command.js");
      return runDiffCommand(rest, io);
    }
    case "test-templates": {
      // Loaded lazily, like `diff`: only this command needs the invariants and vtysh.
      const { runTestTemplatesCommand } = await import("./cli/test-templates-command.js");
      return runTestTemplatesCommand(rest, io);
    }
    case "why": {
      // Loaded lazily, like `run`: `render` must not touch FRR or the live sidecar's modules.
      const { runWhyCommand } = await import("./cli/why-command.js");
      return runWhyCommand(rest, io);
    }
    case undefined:
    case "-h":
    case "--help":
      io.stdout(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      io.stderr(`frr-advertiser: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `frr-advertiser: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
