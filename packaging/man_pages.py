#!/usr/bin/env python3
"""lb(8) and lbctl(8) from README.md: the README is the one text; this turns some of its sections
into roff. Usage: man_pages.py README.md OUTDIR VERSION

Handles the Markdown the README uses: ## and ### headings, paragraphs, "- " and "1. " lists (with
indented continuation lines), fenced code blocks, tables, `code`, **bold**, [links](...). A construct it
does not know is a paragraph, so nothing is silently dropped.
"""

import datetime
import os
import re
import sys

PAGES = {
    "lb": {
        "summary": "userspace L4 load balancer on DPDK",
        # (README section, heading in the page); the section's first code block is the synopsis
        "synopsis_from": "Running lb",
        "sections": [("Running lb", "DESCRIPTION"),
                     ("Installing on an appliance", "INSTALLING ON AN APPLIANCE"),
                     ("Configuration", "CONFIGURATION")],
        "files": [("/etc/lb/lb.yaml", "the configuration (the service's)"),
                  ("/run/lb/lb.sock", "the admin socket lbctl talks to (admin.socket)"),
                  ("/lib/systemd/system/lb.service", "the systemd unit")],
        "see_also": "lbctl(8), dpdk-devbind.py(1), systemctl(1), journalctl(1)",
    },
    "lbctl": {
        "summary": "query and steer a running lb",
        "synopsis_from": "Operating a running lb",
        "sections": [("Operating a running lb", "DESCRIPTION")],
        "files": [("/run/lb/lb.sock", "the default admin socket (--socket PATH for another)")],
        "see_also": "lb(8)",
    },
}


def readme_sections(text):
    """{title: [lines]} for each '## ' section (its '### ' subsections included)."""
    sections, title, fenced = {}, None, False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            title = line[3:].strip()
            sections[title] = []
        elif title is not None:
            sections[title].append(line)
    return sections


def escape(text):
    text = text.replace("\\", "\\e")
    return text.replace("-", "\\-") if text else text


def inline(text):
    """Markdown inline markup to roff fonts; everything else escaped."""
    out, pos = [], 0
    pattern = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\([^)]*\)")
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]).replace("\\-", "-"))
        if m.group(1) is not None:
            out.append("\\fB" + escape(m.group(1)) + "\\fR")
        elif m.group(2) is not None:  # bold may hold `code`: its own markup, then bold again
            out.append("\\fB" + inline(m.group(2)).replace("\\fR", "\\fB") + "\\fR")
        else:
            out.append(escape(m.group(3)).replace("\\-", "-"))
        pos = m.end()
    out.append(escape(text[pos:]).replace("\\-", "-"))
    return "".join(out)


def text_line(line):
    """A filled text line: one starting with . or ' would be read as a request."""
    return "\\&" + line if line[:1] in (".", "'") else line


def first_code_block(lines):
    block, inside = [], False
    for line in lines:
        if line.startswith("```"):
            if inside:
                return block
            inside = True
        elif inside:
            block.append(line)
    return block


def body(lines, skip_first_code=False):
    roff, para, i = [], [], 0

    def flush():
        if para:
            # Joined first: a `code` span may run across lines.
            roff.extend([".PP", text_line(inline(" ".join(para)))])
            para.clear()

    skipped = not skip_first_code
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            if not skipped:
                skipped = True
            else:
                roff += [".PP", ".RS 2", ".nf"]
                roff += ["\\&" + escape(b) for b in block]
                roff += [".fi", ".RE"]
        elif line.startswith("### "):
            flush()
            roff.append(".SS " + inline(line[4:].strip()))
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            header, rows = rows[0], rows[1:]
            for row in rows:
                for name, cell in zip(header, row):
                    roff += [".IP \\(bu 2", text_line(inline(name + ": " + cell))]
            roff.append(".PP")
            continue
        elif re.match(r"- |\d+\. ", line):
            flush()
            marker, _, first = line.partition(" ")
            item = [first]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            tag = "\\(bu 2" if marker == "-" else marker + " 4"
            roff += [".IP " + tag, text_line(inline(" ".join(item)))]
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return roff


def page(name, spec, sections, version, date):
    out = [f'.TH {name.upper()} 8 "{date}" "lb {version}" "System Administration"',
           ".SH NAME", f"{name} \\- {spec['summary']}", ".SH SYNOPSIS", ".nf"]
    synopsis = first_code_block(sections[spec["synopsis_from"]])
    out += ["\\&" + escape(s) for s in synopsis] + [".fi"]
    for title, heading in spec["sections"]:
        if title not in sections:
            sys.exit(f"man_pages.py: README.md has no section '## {title}'")
        out.append(f".SH {heading}")
        out += body(sections[title], skip_first_code=title == spec["synopsis_from"])
    out.append(".SH FILES")
    for path, what in spec["files"]:
        out += [".TP", f"\\fB{escape(path)}\\fR", inline(what)]
    out += [".SH SEE ALSO", escape(spec["see_also"]).replace("\\-", "-")]
    # Consecutive paragraph macros say nothing twice.
    cleaned = []
    for line in out:
        if line == ".PP" and cleaned and cleaned[-1] in (".PP", ".SH", ".SS") or (
                line == ".PP" and cleaned and cleaned[-1].startswith((".SH", ".SS"))):
            continue
        cleaned.append(line)
    return "\n".join(cleaned) + "\n"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: man_pages.py README.md OUTDIR VERSION")
    readme, outdir, version = sys.argv[1:]
    with open(readme) as f:
        sections = readme_sections(f.read())
    # Reproducible: the date of the README's last change if SOURCE_DATE_EPOCH says so.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", datetime.datetime.now().timestamp()))
    date = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")
    os.makedirs(outdir, exist_ok=True)
    for name, spec in PAGES.items():
        with open(os.path.join(outdir, f"{name}.8"), "w") as f:
            f.write(page(name, spec, sections, version, date))


if __name__ == "__main__":
    main()
