#!/usr/bin/env python3
"""The packet path must never throw, allocate or make a syscall (docs/design.md, "The worker
never throws"). -fno-exceptions stops `throw` and `try` in our own code; this audit stops calls
into the standard library that throw or allocate, which -fno-exceptions does not: a
string_view::substr past the end still throws std::out_of_range from libstdc++ (the bare `EPRT`
line that killed the process did exactly that).

Usage: packet_path.py SOURCE... ; exits 1 and names file:line:token for every finding.
A line may opt out with a `// audit: allow (why)` comment on it or on the line above."""

import re
import sys

BANNED = [
    (r"\.substr\s*\(", "substr throws std::out_of_range past the end: slice without throwing"),
    (r"\.at\s*\(", "at() throws std::out_of_range: index after checking the bound"),
    (r"\bsto(i|l|ul|ll|ull|f|d|ld)\s*\(", "std::sto* throws and allocates: use std::from_chars"),
    (r"\bstd::regex\b|<regex>", "std::regex allocates, throws and recurses"),
    (r"\bstd::(string|vector|map|unordered_map|deque|list|function)\b(?!_view)",
     "allocating container on the packet path"),
    (r"\bnew\s+[A-Za-z_(]", "heap allocation on the packet path"),
    (r"\b(malloc|calloc|realloc|rte_malloc|rte_zmalloc)\s*\(", "heap allocation on the packet path"),
    (r"\b(make_unique|make_shared)\b", "heap allocation on the packet path"),
    (r"\.(push_back|emplace_back|resize)\s*\(", "container growth allocates"),
    (r"\bthrow\b|\btry\b|\bcatch\b", "exceptions on the packet path"),
    (r"\bfmt::|\bstd::(cout|cerr)\b|\bprintf\s*\(", "formatting allocates or writes (a syscall)"),
    (r"\.value\s*\(\)", "optional::value() throws std::bad_optional_access"),
]


def strip_comments_and_strings(line: str) -> str:
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//", 1)[0]


def audit(path: str) -> list[str]:
    findings = []
    in_block_comment = False
    allowed_next = False
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            allowed, allowed_next = allowed_next, False
            if "audit: allow" in raw:
                allowed_next = True
                continue
            if allowed:
                continue
            line = raw
            if in_block_comment:
                if "*/" not in line:
                    continue
                line = line.split("*/", 1)[1]
                in_block_comment = False
            if "/*" in line:
                head, _, tail = line.partition("/*")
                if "*/" not in tail:
                    in_block_comment = True
                line = head
            code = strip_comments_and_strings(line)
            for pattern, why in BANNED:
                match = re.search(pattern, code)
                if match:
                    findings.append(f"{path}:{number}: '{match.group(0).strip()}': {why}")
    return findings


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    findings = [f for path in sys.argv[1:] for f in audit(path)]
    for f in findings:
        print(f)
    print(f"packet path audit: {len(sys.argv) - 1} file(s), {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
