// Builds the JSON logger (pino) once, in main; everything else receives it as an argument.

import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: { app: "frr-advertiser" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach a log line, whichever field they hide in.
      redact: {
        paths: ["password", "*.password", "neighbors[*].password", "config.bgp.neighbors[*].password"],
        censor: "<redacted>",
      },
    },
    destination as pino.DestinationStream,
  );
}
