/**
 * The operator's error pages (`--error-pages DIR`): `404.html` for a host
 * no route serves, `503.html` for a route with no server up, `502.html` and
 * `504.html` for a server that failed or took too long. Checked once at
 * start; HAProxy reads them again on each reload.
 *
 * @module
 */

import { SettingsError } from "../util/settings_error.ts";
import { errorMessage } from "../util/error_message.ts";

/** The statuses a page may replace. */
export const ERROR_STATUSES = [404, 502, 503, 504] as const;

/**
 * HAProxy sends an error page from one buffer (16 KiB, less room for
 * rewriting headers): a page beyond this is refused here rather than by
 * HAProxy at the first reload.
 */
export const MAX_ERROR_PAGE_BYTES = 12 * 1024;

/** One page: the status it answers and its file. */
export interface ErrorPage {
  readonly status: (typeof ERROR_STATUSES)[number];
  readonly file: string;
}

/**
 * Reads which pages `dir` holds; a status without its file keeps HAProxy's
 * page.
 *
 * @throws {SettingsError} naming the directory or file at fault: not a
 * directory, none of the pages, a page that is no regular file, cannot be
 * read, is larger than {@link MAX_ERROR_PAGE_BYTES} or holds a NUL byte.
 */
export async function readErrorPages(dir: string): Promise<ErrorPage[]> {
  const fault = (what: string) =>
    new SettingsError(`Invalid error pages ${dir}: ${what}`);
  if (!dir.startsWith("/") || /[\s"'#\\]/.test(dir)) {
    throw fault("give the absolute path of a directory, without spaces");
  }
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw fault("not a directory");
  } catch (error) {
    if (error instanceof SettingsError) throw error;
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw fault(errorMessage(error));
  }
  const pages: ErrorPage[] = [];
  for (const status of ERROR_STATUSES) {
    const file = `${dir.replace(/\/+$/, "")}/${status}.html`;
    let bytes: Uint8Array;
    try {
      if (!(await Deno.stat(file)).isFile) {
        throw fault(`${status}.html is not a regular file`);
      }
      bytes = await Deno.readFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      if (error instanceof SettingsError) throw error;
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw fault(`${status}.html: ${errorMessage(error)}`);
    }
    if (bytes.length > MAX_ERROR_PAGE_BYTES) {
      throw fault(
        `${status}.html has ${bytes.length} bytes, more than the ${MAX_ERROR_PAGE_BYTES} HAProxy can send as an error page`,
      );
    }
    if (bytes.includes(0)) throw fault(`${status}.html holds a NUL byte`);
    pages.push({ status, file });
  }
  if (pages.length === 0) {
    throw fault(
      `none of ${ERROR_STATUSES.map((s) => `${s}.html`).join(", ")} is there`,
    );
  }
  return pages;
}
