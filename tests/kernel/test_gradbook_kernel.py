"""The official Jupyter kernel conformance suite (jupyter_kernel_test), with
every optional feature configured. Run by tests/kernel/conformance.test.ts
with JUPYTER_PATH pointing at a temporary prefix holding the kernelspec."""
import unittest

import jupyter_kernel_test


class GradbookKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "gradbook"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("some error")'

    completion_samples = [
        {"text": "conso", "matches": {"console"}},
        {"text": "Math.ab", "matches": {"abs"}},
        {"text": "const someVariable = 1; someVar", "matches": {"someVariable"}},
    ]

    complete_code_samples = ["1 + 1", "const x = 1", "function f() { return 1 }", "%%strict\nlet a: number = 1"]
    incomplete_code_samples = ["function f() {", "let a = [1,", "const s = `abc", "if (x) {\n  y()"]
    invalid_code_samples = ["1 +* 2", "let 1x = 2", ")"]

    code_page_something = "?Math.max"

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x: number) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.markdown("# title")', "mime": "text/markdown"},
        {"code": 'display.svg("<svg xmlns=\'http://www.w3.org/2000/svg\'></svg>")', "mime": "image/svg+xml"},
        {"code": "display.json({ a: 1 })", "mime": "application/json"},
        {"code": 'display({ toMimeBundle: () => ({ "text/html": "<i>x</i>" }) })', "mime": "text/html"},
    ]

    code_history_pattern = "6?7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main()
