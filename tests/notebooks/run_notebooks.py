"""Executes notebooks with the gradbook kernel through nbclient (the Jupyter client that
`jupyter nbconvert --execute` uses), PARALLEL at a time, in one Python process: one
interpreter start for all of them instead of one nbconvert per notebook.

    run_notebooks.py OUT_DIR PARALLEL TIMEOUT_S NOTEBOOK.ipynb...

Each executed notebook is written to OUT_DIR under its own name (cells in error kept, as with
--allow-errors), and one JSON line per notebook goes to stdout when it finishes:
{"name", "seconds", "error"} (error: null, or why the run itself failed).
"""
import asyncio
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


async def run_one(path, out_dir, timeout, gate):
    async with gate:
        name = os.path.basename(path)
        t0 = time.monotonic()
        error = None
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name="gradbook", timeout=timeout, allow_errors=True, resources={"metadata": {"path": os.path.dirname(path)}})
        try:
            await client.async_execute()
        except Exception as e:  # a dead kernel or a timeout: report it, keep what ran
            error = f"{type(e).__name__}: {e}"
        nbformat.write(nb, os.path.join(out_dir, name))
        print(json.dumps({"name": name, "seconds": time.monotonic() - t0, "error": error}), flush=True)


async def main():
    out_dir, parallel, timeout, paths = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    gate = asyncio.Semaphore(parallel)
    await asyncio.gather(*(run_one(p, out_dir, timeout, gate) for p in paths))


if __name__ == "__main__":
    asyncio.run(main())
