"""smrules: policy-as-code for corporate social media policies.

>>> import smrules
>>> policy = smrules.load("policies/")            # doctest: +SKIP
>>> policy.evaluate({"kind": "post", "actor": {"id": "e1"},
...                  "content": {"text": "Hello"}}).decision   # doctest: +SKIP
'allow'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import bundled_policy_path, load
    from .decision import Decision, Evidence, Finding, PolicyRef, RuleError, SourceRef, Waived
    from .engine import Policy, RuleInfo
    from .errors import ActivityError, Diagnostic, PolicyError, Problem, SmrulesError, Span

# Public names, imported on first use so that `import smrules` (and `smrules --help`) stays
# cheap: the engine, lark and RE2 load only when a policy does.
_EXPORTS = {
    "load": "api",
    "bundled_policy_path": "api",
    "Decision": "decision",
    "Evidence": "decision",
    "Finding": "decision",
    "PolicyRef": "decision",
    "RuleError": "decision",
    "SourceRef": "decision",
    "Waived": "decision",
    "Policy": "engine",
    "RuleInfo": "engine",
    "ActivityError": "errors",
    "Diagnostic": "errors",
    "PolicyError": "errors",
    "Problem": "errors",
    "SmrulesError": "errors",
    "Span": "errors",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smrules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "ActivityError",
    "Decision",
    "Diagnostic",
    "Evidence",
    "Finding",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "Problem",
    "RuleError",
    "RuleInfo",
    "SmrulesError",
    "SourceRef",
    "Span",
    "Waived",
    "__version__",
    "bundled_policy_path",
    "load",
]
