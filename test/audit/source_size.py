#!/usr/bin/env python3
"""The house rules on size (issue 22): no source file over LIMIT_FILE lines and no function over
LIMIT_FUNCTION lines, but the exceptions named below with their reason. Reads clang-formatted
C++: a definition opens with a line ending in '{' at indentation 0 (a free function) or 4 (a
member defined in its class) and closes at the first '}' line with the same indentation.

Usage: source_size.py ROOT"""

import os
import re
import sys

LIMIT_FILE = 650  # "about 600"
LIMIT_FUNCTION = 100

# file -> why it may be longer
FILE_EXCEPTIONS = {}
# function name -> why it may be longer
FUNCTION_EXCEPTIONS = {
    "process_burst": "the worker's burst: one pass over the frames, stages side by side so the "
                     "prefetches line up (docs/design.md, 'Worker loop')",
}
FOLDERS = ["lb", "control", "modules", "dataplane", "test"]
SKIP = re.compile(r"^\s*(namespace|struct|class|enum|union|extern|switch|if|for|while|do|else|"
                  r"try|catch|return|case|default|#|//|TEST_CASE|SECTION|static_assert)\b")
OPEN = re.compile(r"^( {0}| {4})(\S.*)\{$")


def functions(lines):
    """(name, first line, length) of every definition the rule can see."""
    i = 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m or SKIP.match(m.group(2)) or "(" not in lines[i] and not lines[i].strip().startswith(")"):
            i += 1
            continue
        indent = m.group(1)
        # the signature may start lines above: take the name from the nearest '(' line
        start = i
        while start > 0 and "(" not in lines[start] and lines[start - 1].startswith(indent):
            start -= 1
        name = re.findall(r"([A-Za-z_~][A-Za-z0-9_]*)\s*\(", lines[start])
        end = i + 1
        while end < len(lines) and lines[end] != indent + "}" and not lines[end].startswith(indent + "};"):
            if indent == "" and lines[end].startswith("}"):
                break
            end += 1
        yield (name[0] if name else "?", start + 1, end - start + 1)
        i = end + 1


def main(root):
    problems = []
    for folder in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for n in names:
                if not n.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    lines = f.read().split("\n")
                if len(lines) > LIMIT_FILE and rel not in FILE_EXCEPTIONS:
                    problems.append(f"{rel}: {len(lines)} lines, over {LIMIT_FILE}: split it by "
                                    "responsibility")
                if rel.startswith("test/"):
                    continue  # test cases are a list, not functions
                for name, line, length in functions(lines):
                    if length > LIMIT_FUNCTION and name not in FUNCTION_EXCEPTIONS:
                        problems.append(f"{rel}:{line}: {name} is {length} lines, over "
                                        f"{LIMIT_FUNCTION}")
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
