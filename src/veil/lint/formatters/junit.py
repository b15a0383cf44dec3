"""JUnit XML, which every CI server shows as a test report.

Each linted file is a test case; a file with findings fails, with one
`<failure>` per finding. `failures` counts failing files (test cases).

>>> from veil.lint.findings import LintResult
>>> print(format_junit(LintResult(files=["a.sql"])), end="")
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="veil lint" tests="1" failures="0" errors="0" skipped="0">
  <testcase classname="a.sql" name="a.sql" />
</testsuite>
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from veil.lint.findings import Finding, LintResult
from veil.lint.formatters import sorted_findings

SUITE_NAME = "veil lint"
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _failure(case: ET.Element, finding: Finding) -> None:
    failure = ET.SubElement(case, "failure", type=finding.rule, message=_xml_text(finding.message))
    failure.text = _xml_text(f"{finding.location}: {finding.rule} {finding.name}: {finding.message}")


def as_element(result: LintResult) -> ET.Element:
    """The `<testsuite>` element: one test case per linted file."""
    by_path: dict[str, list[Finding]] = {path: [] for path in result.files}
    for finding in sorted_findings(result):
        by_path.setdefault(finding.path, []).append(finding)
    failing = sum(1 for findings in by_path.values() if findings)
    suite = ET.Element("testsuite", name=SUITE_NAME, tests=str(len(by_path)),
                       failures=str(failing), errors="0", skipped="0")
    for path, findings in by_path.items():
        case = ET.SubElement(suite, "testcase", classname=_xml_text(path), name=_xml_text(path))
        for finding in findings:
            _failure(case, finding)
    return suite


def format_junit(result: LintResult) -> str:
    """The JUnit XML document, indented, with an XML declaration."""
    suite = as_element(result)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
