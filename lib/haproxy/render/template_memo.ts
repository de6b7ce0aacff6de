/**
 * The template global `memo()`, which keeps a macro's output between renders.
 *
 * @module
 */

/** A call memo() keeps: its arguments and what the macro returned for them. */
interface Kept {
  readonly args: readonly unknown[];
  readonly out: unknown;
}

/**
 * The template global `memo(macro, ...args)`: the macro's output for
 * arguments identical (`===`) to those of an earlier call, else a new call.
 * At 10,000 routes, rendering every backend section again on every change
 * made most of the garbage an update then paid for in collection; with
 * memo, a change renders only the sections whose route changed. It is only
 * right for a macro whose output depends on nothing but its arguments and
 * the renderer's fixed settings, as the built-in `backend` macro does.
 * Calls are found by their last object argument (a route's view or a
 * slot's servers, kept while the route is), so an entry goes when its
 * route goes; calls with no object argument are not kept.
 */
export function memoizer(): (
  this: unknown,
  macro: unknown,
  ...args: unknown[]
) => unknown {
  const kept = new WeakMap<object, Kept>();
  return function (this: unknown, macro, ...args) {
    if (typeof macro !== "function") {
      throw new TypeError("memo() takes a macro first");
    }
    const anchor = args.findLast((arg): arg is object =>
      typeof arg === "object" && arg !== null
    );
    const known = anchor === undefined ? undefined : kept.get(anchor);
    if (
      known !== undefined && known.args.length === args.length &&
      known.args.every((arg, i) => arg === args[i])
    ) {
      return known.out;
    }
    // Nunjucks calls a macro with the render's context as `this`.
    const out: unknown = macro.apply(this, args);
    if (anchor !== undefined) kept.set(anchor, { args, out });
    return out;
  };
}
