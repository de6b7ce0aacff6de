/**
 * Command-line parsing shared by both entry points.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { VERSION } from "../version.ts";

/**
 * A commander program with the flags both binaries have (`--version`,
 * `-h/--help`, `--docker-url`, `--metrics-listen`, `--log-level`) that throws instead of exiting,
 * so the entry point owns the exit status.
 */
export function baseProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .version(VERSION, "--version", "print the version and exit")
    .helpOption("-h, --help", "show this help and exit")
    .exitOverride()
    .configureOutput({
      writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    });
}

/** Adds the flags both binaries end with. */
export function commonOptions(cli: Command): Command {
  return cli
    .option(
      "--docker-url <url>",
      "Docker engine: unix:///path or tcp://host:port, with ?certpath=<dir> for TLS (default: DOCKER_HOST, else unix:///var/run/docker.sock); docker-balancer takes it more than once, for other hosts' engines",
      (value: string, previous: string[] | undefined) => [
        ...(previous ?? []),
        value,
      ],
    )
    .option(
      "--metrics-listen <addr:port>",
      "with -w: serve the status page on /, Prometheus metrics on /metrics and health on /healthz at this address, such as 127.0.0.1:9612 (off by default)",
    )
    .option(
      "--metrics-auth <file>",
      "let clients of other hosts see the status page with the user:password this file holds (mode 600); without it the page answers loopback clients only",
    )
    .option("--log-level <level>", "debug, info, warning or error", "info");
}

/**
 * Parses `args`. Returns the flags, or the exit status when parsing ended the
 * run: 0 after `--help` or `--version`, 2 for a usage error (commander has
 * printed it).
 */
export function parseFlags<T>(cli: Command, args: string[]): T | number {
  try {
    cli.parse(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  return cli.opts<T & Record<string, unknown>>();
}
