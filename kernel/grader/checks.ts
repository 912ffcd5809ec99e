/**
 * The test helpers (`assert`, `assertEqual`, `assertClose`, `assertThrows`)
 * are part of the kernel (kernel/asserts.ts), preloaded in every kernel like
 * `gb`. Notebooks made before that carry them as a locked cell with this
 * grade id; the grader does not run that cell (the kernel has the helpers)
 * and does not report it missing or changed; in Jupyter it does nothing.
 */
export const CHECKS_GRADE_ID = "gradbook_checks";
