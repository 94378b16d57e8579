"""Check the template twice: cfn-lint locally, then CloudFormation's own ValidateTemplate.

cfn-lint knows every resource's schema, so a wrong property fails here, before anything is
built or pushed, with the resource's logical id; its warnings are shown and do not stop the
deploy. ValidateTemplate runs on the uploaded template and tells which IAM capabilities the
stack needs, which the update then acknowledges exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridless.errors import PhaseError
from hybridless.report import Annotation, Reporter


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    where: str

    @property
    def is_error(self) -> bool:
        return self.rule.startswith("E")

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.rule}]"


def lint_template(body: str, region: str) -> list[Finding]:
    # Imported here: loading cfn-lint's schemas takes a second or more, which a config mistake
    # or `--help` should not wait for.
    from cfnlint.api import ManualArgs, lint

    findings = []
    for match in lint(body, config=ManualArgs(regions=[region])):
        path = list(getattr(match, "path", None) or [])
        where = "/".join(str(p) for p in path[:2]) if path else f"line {match.linenumber}"
        findings.append(Finding(match.rule.id, match.message, where))
    return findings


def check_template(body: str, region: str, reporter: Reporter, name: str = "template") -> None:
    """`name` says which template: the root, or one of its nested stacks."""
    findings = lint_template(body, region)
    for finding in findings:
        if not finding.is_error:
            where = "" if name == "template" else f" ({name})"
            reporter.warning(f"cfn-lint{where}: {finding}")
            reporter.annotate(Annotation("warning", str(finding), title=f"cfn-lint{where}"))
    errors = [f for f in findings if f.is_error]
    if errors:
        raise PhaseError(
            "validate", f"cfn-lint found errors in the {name}:\n" + "\n".join(map(str, errors))
        )


def validate_uploaded(cloudformation: Any, template_url: str) -> list[str]:
    """The capabilities CloudFormation says the template needs."""
    response = cloudformation.validate_template(TemplateURL=template_url)
    return list(response.get("Capabilities", []))
