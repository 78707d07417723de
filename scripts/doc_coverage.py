#!/usr/bin/env python3
"""Public documentation coverage per module: the share of `public`/`open` declarations in
Sources/<Module> that carry a `///` comment. Overrides count as documented (DocC shows the
overridden declaration's comment); enum cases and members of `public extension`s, which carry
no `public` of their own, are not counted. Usage: scripts/doc_coverage.py [--missing MODULE]"""
import pathlib, re, sys

DECL = re.compile(r"^\s*(?:@[\w.()\", :]+\s+)*(?:public|open)\s+(?:(?:private|fileprivate|internal)\(set\)\s+)?"
                  r"(?:(?:static|class|final|override|mutating|nonmutating|convenience|required|"
                  r"indirect|lazy|nonisolated|consuming|borrowing)\s+)*"
                  r"(func|var|let|init|init\?|subscript|struct|class|enum|protocol|typealias|case|actor|associatedtype)\b")
ATTRIBUTE = re.compile(r"^\s*@\w")

def declarations(path):
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if not DECL.match(line):
            continue
        previous = number - 1
        while previous >= 0 and ATTRIBUTE.match(lines[previous]):
            previous -= 1
        documented = re.search(r"\boverride\b", line) is not None or previous >= 0 and (lines[previous].strip().startswith("///") or lines[previous].strip().endswith("*/"))
        yield number + 1, line.strip(), documented

def main():
    root = pathlib.Path(__file__).resolve().parent.parent / "Sources"
    missing_module = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--missing" else None
    total_all = documented_all = 0
    for module in sorted(p for p in root.iterdir() if p.is_dir()):
        total = documented = 0
        for path in sorted(module.rglob("*.swift")):
            for number, text, ok in declarations(path):
                total += 1
                documented += ok
                if missing_module == module.name and not ok:
                    print(f"{path.relative_to(root.parent)}:{number}: {text}")
        if total and not missing_module:
            print(f"{module.name:18} {documented:4}/{total:<4} {100 * documented / total:5.1f}%")
        total_all += total
        documented_all += documented
    if not missing_module:
        print(f"{'all':18} {documented_all:4}/{total_all:<4} {100 * documented_all / total_all:5.1f}%")

main()
