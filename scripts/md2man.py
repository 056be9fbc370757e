#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""md2man: turns one of docs/*.md into a manual page, so the two never disagree.

    md2man.py --name understudy.yaml --section 5 --summary "..." [--version V] IN.md > OUT.5

Knows the Markdown the docs are written in: headings (#, ##, ###), paragraphs, `code`,
*emphasis*, **strong**, [links](target), fenced code blocks, lists (-, 1.) nested by
indentation, indented code blocks, and tables. The first heading becomes the page's title line; the text before
the first ## goes under DESCRIPTION; each ## becomes a section, each ### a subsection. A table
row becomes a tagged paragraph: the first cell is the tag, the other cells follow, each after
its column's name ("type: ...; default: ..."), so option tables read well in 80 columns.
Anything else is an error, so a construct the converter does not know cannot silently vanish
from the page.
"""

import argparse
import re
import sys


class Md2ManError(Exception):
    pass


def esc(text):
    """Escapes roff's special characters in plain text."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def inline(text):
    """Markdown inline markup to roff font changes; text comes unescaped."""
    out, pos = [], 0
    pattern = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]+)\)")
    for m in pattern.finditer(text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        elif m.group(3) is not None:
            out.append("\\fI" + esc(m.group(3)) + "\\fR")
        else:
            label, target = m.group(4), m.group(5)
            out.append(inline(label))
            # A link within the page reads as the section's name; one elsewhere keeps its
            # target, which a reader of the page cannot click.
            if not target.startswith("#"):
                out.append(" (" + esc(target) + ")")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def line_start(text):
    """A roff input line must not start with a control character."""
    return "\\&" + text if text[:1] in (".", "'") else text


def split_row(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def convert(md, name, section, summary, version, source):
    lines = md.splitlines()
    out = []
    title = None
    i = 0
    para = []
    list_depths = []  # indentation of each open list level

    def flush_para():
        if para:
            text = " ".join(s.strip() for s in para)
            out.append(".PP")
            out.append(line_start(inline(text)))
            para.clear()

    def close_lists(indent=-1):
        while list_depths and list_depths[-1] > indent:
            list_depths.pop()
            if list_depths:
                out.append(".RE")

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        m = re.match(r"^(#{1,3}) (.*)$", line)
        if m:
            flush_para()
            close_lists()
            level, text = len(m.group(1)), m.group(2).strip()
            if level == 1:
                if title is not None:
                    raise Md2ManError(f"{source}:{i + 1}: a second top-level heading")
                title = text
                out.append(f'.TH "{name.upper()}" "{section}" "" "understudy {version}" '
                           f'"{esc(title)}"')
                out.append(".SH NAME")
                out.append(f"{esc(name)} \\- {esc(summary)}")
                out.append(".SH DESCRIPTION")
            elif level == 2:
                out.append(".SH " + line_start(inline(text.upper())))
            else:
                out.append(".SS " + line_start(inline(text)))
            i += 1
            continue
        if title is None and stripped:
            raise Md2ManError(f"{source}:{i + 1}: text before the first heading")
        if stripped.startswith("```"):
            flush_para()
            close_lists()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(line_start(esc(lines[i])))
                i += 1
            if i == len(lines):
                raise Md2ManError(f"{source}: a code block that does not end")
            out += [".fi", ".RE"]
            i += 1
            continue
        if line.startswith("    ") and not para and not list_depths:
            # An indented code block: up to the next line that is not indented or blank.
            out += [".PP", ".RS 4", ".nf"]
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += [line_start(esc(b)) for b in block]
            out += [".fi", ".RE"]
            continue
        if stripped.startswith("|"):
            flush_para()
            close_lists()
            header = split_row(lines[i])
            if i + 1 >= len(lines) or not re.match(r"^\|[-| :]+\|$", lines[i + 1].strip()):
                raise Md2ManError(f"{source}:{i + 1}: a table without its header separator")
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = split_row(lines[i])
                if len(cells) != len(header):
                    raise Md2ManError(f"{source}:{i + 1}: {len(cells)} cells, the header has "
                                      f"{len(header)}")
                out.append(".TP")
                out.append(line_start(inline(cells[0])))
                rest = [f"{esc(h)}: {inline(c)}" for h, c in zip(header[1:-1], cells[1:-1])]
                rest.append(inline(cells[-1]))
                out.append(line_start("; ".join(rest)))
                i += 1
            continue
        m = re.match(r"^(\s*)(?:[-*]|\d+\.) (.*)$", line)
        if m:
            flush_para()
            indent = len(m.group(1))
            close_lists(indent)
            if not list_depths or list_depths[-1] < indent:
                if list_depths:
                    out.append(".RS 2")
                list_depths.append(indent)
            text = [m.group(2)]
            i += 1
            # Continuation lines are indented deeper than the marker and are not items.
            while (i < len(lines) and lines[i].strip() and
                   not re.match(r"^\s*(?:[-*]|\d+\.) ", lines[i]) and
                   len(lines[i]) - len(lines[i].lstrip()) > indent):
                text.append(lines[i].strip())
                i += 1
            out.append(".IP \\(bu 2")
            out.append(line_start(inline(" ".join(text))))
            continue
        if not stripped:
            flush_para()
            i += 1
            continue
        if list_depths and len(line) - len(line.lstrip()) == 0:
            close_lists()
        para.append(line)
        i += 1
    flush_para()
    close_lists()
    if title is None:
        raise Md2ManError(f"{source}: no heading")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--section", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("source")
    args = ap.parse_args()
    with open(args.source, encoding="utf-8") as f:
        md = f.read()
    try:
        page = convert(md, args.name, args.section, args.summary, args.version, args.source)
    except Md2ManError as e:
        print(f"md2man: {e}", file=sys.stderr)
        return 1
    header = f'.\\" Generated from {args.source} by scripts/md2man.py: edit that file instead.\n'
    sys.stdout.write(header + page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
