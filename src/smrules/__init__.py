"""smrules: policy-as-code for corporate social media policies.

>>> import smrules
>>> policy = smrules.load("policies/")            # doctest: +SKIP
>>> policy.evaluate({"kind": "post", "actor": {"id": "e1"},
...                  "content": {"text": "Hello"}}).decision   # doctest: +SKIP
'allow'
"""

from __future__ import annotations

from .api import bundled_policy_path, load
from .decision import Decision, Evidence, Finding, PolicyRef, RuleError, SourceRef, Waived
from .engine import Policy, RuleInfo
from .errors import ActivityError, Diagnostic, PolicyError, Problem, SmrulesError, Span

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
