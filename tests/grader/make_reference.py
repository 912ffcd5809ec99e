"""Reference checksums for tests/grader: nbgrader's compute_checksum applied to
every nbgrader cell of the fixture notebooks, with Debian's Python and
nbformat (run with /usr/bin/python3; nbgrader itself is not packaged in
Debian, so its function is reproduced below as nbgrader/utils.py defines it).

    /usr/bin/python3 tests/grader/make_reference.py > tests/grader/fixtures/checksums.json
"""
import hashlib
import json
import os
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))


# --- nbgrader/utils.py (nbgrader 0.9), unchanged -----------------------------
def is_grade(cell):
    if 'nbgrader' not in cell.metadata:
        return False
    return cell.metadata['nbgrader'].get('grade', False)


def is_solution(cell):
    if 'nbgrader' not in cell.metadata:
        return False
    return cell.metadata['nbgrader'].get('solution', False)


def is_locked(cell):
    if 'nbgrader' not in cell.metadata:
        return False
    elif is_solution(cell):
        return False
    elif is_grade(cell):
        return True
    else:
        return cell.metadata['nbgrader'].get('locked', False)


def to_bytes(string):
    return bytes(string.encode('utf-8'))


def compute_checksum(cell):
    m = hashlib.md5()
    m.update(to_bytes(cell.source))
    m.update(to_bytes(cell.cell_type))
    m.update(to_bytes(str(is_grade(cell))))
    m.update(to_bytes(str(is_solution(cell))))
    m.update(to_bytes(str(is_locked(cell))))
    m.update(to_bytes(cell.metadata.nbgrader['grade_id']))
    if is_grade(cell):
        m.update(to_bytes(str(float(cell.metadata.nbgrader['points']))))
    return m.hexdigest()
# -----------------------------------------------------------------------------


out = {}
for name in sorted(os.listdir(os.path.join(HERE, "fixtures"))):
    if not name.endswith(".ipynb"):
        continue
    nb = nbformat.read(os.path.join(HERE, "fixtures", name), as_version=4)
    out[name] = {c.metadata.nbgrader["grade_id"]: compute_checksum(c) for c in nb.cells if "nbgrader" in c.metadata}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
