"""Name resolution shared by the checker and the compiler (SPEC §2.3, §2.4).

Each file has its own scope: its imports and its `let`s. A `let` sees the imports and the
`let`s declared before it; rules see every name of their file. Names not bound in the file are
the activity's top-level fields, `activity`, and the built-in functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import nodes as n
from .loader import Program

BUILTINS = frozenset(
    "len lower upper trim words domain pii near sha256 hour weekday days_between".split()
)

ACTIVITY_FIELDS = frozenset(
    "id kind time use_case platform audience context actor account content job review_target "
    "declared approval tool profile".split()
)


@dataclass(frozen=True, slots=True)
class ActivityFieldRef:
    name: str


@dataclass(frozen=True, slots=True)
class LetRef:
    module: str
    let: n.Let


@dataclass(frozen=True, slots=True)
class DataRef:
    file: str


@dataclass(frozen=True, slots=True)
class ModuleRef:
    module: str


Binding = ActivityFieldRef | LetRef | DataRef | ModuleRef


@dataclass(frozen=True, slots=True)
class ModuleScope:
    module: str
    names: dict[str, Binding]
    position: dict[str, int]  # declaration index of each bound name

    def lookup(self, name: str, before: int | None = None) -> Binding | None:
        """The binding of `name`; with `before`, only names declared before that index."""
        binding = self.names.get(name)
        if binding is not None:
            if before is None or self.position[name] < before:
                return binding
            return None
        if name in ACTIVITY_FIELDS:
            return ActivityFieldRef(name)
        return None


def build_scopes(program: Program) -> dict[str, ModuleScope]:
    """One scope per module. Redefinitions are reported by the checker, first one wins here."""
    scopes: dict[str, ModuleScope] = {}
    for module in program.modules:
        names: dict[str, Binding] = {}
        position: dict[str, int] = {}
        aliases = program.imports.get(module.file, {})
        for index, decl in enumerate(module.declarations):
            if isinstance(decl, n.Import):
                target = aliases.get(decl.alias)
                if target is None or decl.alias in names:
                    continue
                if target in program.data:
                    names[decl.alias] = DataRef(target)
                else:
                    names[decl.alias] = ModuleRef(target)
                position[decl.alias] = index
            elif isinstance(decl, n.Let) and decl.name not in names:
                names[decl.name] = LetRef(module.file, decl)
                position[decl.name] = index
        scopes[module.file] = ModuleScope(module.file, names, position)
    return scopes
