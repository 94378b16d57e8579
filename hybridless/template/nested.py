"""Splitting a template CloudFormation would refuse into a root stack and nested stacks.

Why split only when a limit is crossed: CloudFormation cannot move a resource from one stack to
another. Moving it means deleting it in one stack and creating it in the other, and resources
with fixed physical names (log groups, functions) or unique settings (listener rule priorities)
collide with their old selves while both exist. So a template that fits stays exactly as it is,
and once split, the same app must split the same way on every deploy.

Why whole groups, packed greedily in their order of first appearance: the resources of one event
reference each other densely, so cutting through a group would need values passed between
children. Filling `Nested1`, then `Nested2`, in app order means a function added at the end of
the app lands in the last child or a new one, and every earlier child stays byte for byte what
it was. The guarantee has a limit: a group that grows or disappears in an earlier child moves the
boundary, and groups after it shift to the next child. Keeping every group where it was would
need the deployed assignment as an input, which this pure function does not have.

Why no headroom below the resource, output, parameter and mapping limits: the counts are exact
and the split is recomputed from scratch on every deploy, so a child can never drift over a
limit after it was measured. A fill target of, say, 450 resources would not keep a growing group
in place either, since the greedy packing fills to whatever target it has; it would only make
more children, hence more boundaries. Bytes are different: they are measured with exactly the
serialization `hybridless.template.to_json` uses, so the caller must upload that serialization,
and the root keeps `Limits.url_bytes` per child for the S3 URL that replaces the relative
`TemplateURL` later.

Why values go from the root to a child as parameters, and never back: a child can read anything
of the root through its stack resource's `Parameters`, evaluated by the root at deploy time. The
other way round, the root would need `Fn::GetAtt Child.Outputs.X`, which the local emulator
cannot evaluate, and exports would tie the stacks together so that neither could change the
value. So a group that a root resource or a root output references stays in the root ("pinned"),
together with the groups it references. Groups that reference each other, neither pinned, are
one unit that goes into one child. An output that references one unit moves with it (which also
keeps the root under the output limit); one that references several stays in the root and pins
them.

Why parameters are strings unless the root parameter says otherwise: the type of a `Fn::GetAtt`
is not known without every resource's schema. Attributes of ids and ARNs are strings; a list
attribute would need a `CommaDelimitedList` parameter, and cfn-lint on the child reports the
mismatch. Root parameters keep their type, and lists travel joined with commas because a nested
stack's parameter values are strings. `AWS::SSM::Parameter::Value<...>` parameters are resolved
once, in the root, so the child declares the resolved type. Constraints are not repeated, as the
root already checked the value.

Why `AWS::StackName` and `AWS::StackId` become parameters: in a child they would name the child,
and a name built from them would change, replacing the resource. The other pseudo parameters are
the same in every stack of a deploy.

Why conditions are copied, not passed: a condition cannot be a parameter value. Re-evaluated in
the child from the same parameter values, it gives the same answer. Mappings are plain data and
are copied the same way. In the root, conditions and mappings that only moved content used are
dropped, as cfn-lint warns about unused ones.

Why a `DependsOn` on a root resource moves to the nested stack resource: a child cannot name a
root resource. When the stack's parameters already reference that resource, the order is implied
and the `DependsOn` is left out, as cfn-lint warns about redundant ones.

Why parameter names are the referenced logical id (`Cluster`) or the id and the attribute without
dots (`TaskRoleArn`, `AWSStackName`): a reader of the child sees where each value comes from.
Where two references would get the same name, or one would take a name that the template already
uses, each of them gets a hash of the reference instead, so no name depends on the order in
which references are met; a logical id passed as itself keeps its name.

Why the root says `"TemplateURL": "Nested1.json"`: the children are uploaded by the package step,
which knows the bucket; `with_template_urls` then gives the root its final URLs. cfn-lint warns
about a relative `TemplateURL` (W3002, "may only work with 'package' cli command"), so the root
is linted after `with_template_urls`, which is also what is uploaded.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = "2010-09-09"
CHILD_PREFIX = "Nested"
STACK_TYPE = "AWS::CloudFormation::Stack"
DESCRIPTION_BYTES = 1024
NAME_LENGTH = 255
HASH_LENGTH = 8

# The pseudo parameters whose value in a nested stack differs from the root's.
PER_STACK_PSEUDO = {"AWS::StackName": "AWSStackName", "AWS::StackId": "AWSStackId"}

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<(.+)>")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True)
class Limits:
    """CloudFormation's limits per template; see the module docstring for the headroom."""

    resources: int = 500
    outputs: int = 200
    parameters: int = 200
    mappings: int = 200
    bytes: int = 1_000_000
    url_bytes: int = 512  # kept free in the root for each child's final TemplateURL


@dataclass(frozen=True)
class Stacks:
    root: dict[str, Any]
    # A nested stack's logical id in the root -> its template; empty when no split was needed.
    children: dict[str, dict[str, Any]]


def split(
    template: Mapping[str, Any], groups: Mapping[str, str], limits: Limits = Limits()
) -> Stacks:
    """Return `template` as it is if it fits `limits`, else a root and nested stacks.

    `groups` maps a resource's logical id to its group; resources without a group stay in the
    root. Raises ValueError when one group alone, or the root after moving everything movable,
    is over a limit.
    """
    flat = copy.deepcopy(dict(template))
    if not _over(_counts(flat), template_bytes(flat), limits):
        return Stacks(flat, {})
    return _Splitter(flat, groups, limits).run()


def with_template_urls(root: Mapping[str, Any], urls: Mapping[str, str]) -> dict[str, Any]:
    """A copy of `root` where each nested stack's relative TemplateURL is `urls[logical id]`."""
    result = copy.deepcopy(dict(root))
    resources = result.get("Resources", {})
    for logical_id, url in urls.items():
        resource = resources.get(logical_id)
        if not isinstance(resource, dict) or resource.get("Type") != STACK_TYPE:
            raise ValueError(f"{logical_id} is not a nested stack of this template")
        resource["Properties"]["TemplateURL"] = url
    missing = [
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == STACK_TYPE
        and resource.get("Properties", {}).get("TemplateURL") == child_file(logical_id)
    ]
    if missing:
        raise ValueError(f"no template URL for nested stack {', '.join(missing)}")
    return result


def child_file(logical_id: str) -> str:
    """The relative TemplateURL of a nested stack, before `with_template_urls`."""
    return f"{logical_id}.json"


def template_bytes(document: Mapping[str, Any]) -> int:
    """The size of `document` as `hybridless.template.to_json` writes it."""
    return len((json.dumps(document, indent=1) + "\n").encode("utf-8"))


# --- references ------------------------------------------------------------------------------

# (target, attribute) -> the parameter that replaces the reference, or None to leave it as is.
# The attribute is None for `Ref`, a string or an intrinsic function for `Fn::GetAtt`.
Resolve = Callable[[str, Any], str | None]


@dataclass
class _Uses:
    """What a piece of a template refers to, besides what `Resolve` is asked about."""

    conditions: list[str] = field(default_factory=list)
    mappings: list[str] = field(default_factory=list)


def _rewrite(node: Any, resolve: Resolve, uses: _Uses) -> Any:
    """A copy of `node` with the references that `resolve` names replaced by `Ref`s."""
    if isinstance(node, list):
        return [_rewrite(item, resolve, uses) for item in node]
    if not isinstance(node, dict):
        return node
    condition = node.get("Condition")
    if isinstance(condition, str):  # a resource's or output's, or within Fn::And and the like
        uses.conditions.append(condition)
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and isinstance(value, str):
            name = resolve(value, None)
            return {"Ref": name or value}
        if key == "Fn::GetAtt":
            return _rewrite_get_att(value, resolve, uses)
        if key == "Fn::Sub":
            return {"Fn::Sub": _rewrite_sub(value, resolve, uses)}
        if key == "Fn::If" and isinstance(value, list) and value and isinstance(value[0], str):
            uses.conditions.append(value[0])
        if key == "Fn::FindInMap" and isinstance(value, list) and value:
            uses.mappings.extend(value[:1] if isinstance(value[0], str) else [])
    return {key: _rewrite(value, resolve, uses) for key, value in node.items()}


def _get_att_parts(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, str) and "." in value:
        target, _, attribute = value.partition(".")
        return target, attribute
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        return value[0], value[1]
    return None


def _rewrite_get_att(value: Any, resolve: Resolve, uses: _Uses) -> Any:
    parts = _get_att_parts(value)
    if parts is None:
        return {"Fn::GetAtt": _rewrite(value, resolve, uses)}
    name = resolve(*parts)
    if name is not None:
        return {"Ref": name}
    if isinstance(value, list):
        return {"Fn::GetAtt": [value[0], _rewrite(value[1], resolve, uses)]}
    return {"Fn::GetAtt": value}


def _rewrite_sub(value: Any, resolve: Resolve, uses: _Uses) -> Any:
    if isinstance(value, str):
        return _rewrite_placeholders(value, frozenset(), resolve)
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
    ):
        variables = value[1]
        return [
            _rewrite_placeholders(value[0], frozenset(variables), resolve),
            {name: _rewrite(v, resolve, uses) for name, v in variables.items()},
        ]
    return _rewrite(value, resolve, uses)


def _rewrite_placeholders(text: str, variables: frozenset[str], resolve: Resolve) -> str:
    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("!") or inner in variables:
            return match.group(0)
        target, dot, attribute = inner.partition(".")
        name = resolve(target, attribute if dot else None)
        return match.group(0) if name is None else "${" + name + "}"

    return _PLACEHOLDER.sub(replace, text)


def _depends_on(resource: Mapping[str, Any]) -> list[str]:
    value = resource.get("DependsOn")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _targets(node: Any) -> list[str]:
    """Every logical id or pseudo parameter `node` references with Ref, GetAtt or Sub."""
    found: list[str] = []

    def record(target: str, attribute: Any) -> None:
        found.append(target)

    _rewrite(node, record, _Uses())
    return found


# --- counting and measuring --------------------------------------------------------------------


def _counts(document: Mapping[str, Any]) -> dict[str, int]:
    return {
        section: len(document.get(section) or {})
        for section in ("Resources", "Outputs", "Parameters", "Mappings")
    }


def _over(counts: Mapping[str, int], size: int, limits: Limits) -> list[str]:
    """What is over which limit, in words; empty when everything fits."""
    maxima = {
        "Resources": limits.resources,
        "Outputs": limits.outputs,
        "Parameters": limits.parameters,
        "Mappings": limits.mappings,
    }
    problems = [
        f"{counts[section]} {section.lower()} (limit {maximum})"
        for section, maximum in maxima.items()
        if counts[section] > maximum
    ]
    if size > limits.bytes:
        problems.append(f"{size} bytes (limit {limits.bytes})")
    return problems


def _value_size(value: Any, level: int) -> int:
    """Characters of `value` in `json.dumps(..., indent=1)` output, nested `level` deep."""
    text = json.dumps(value, indent=1)
    return len(text) + level * text.count("\n")


def _entry_size(key: str, value_size: int, level: int) -> int:
    """Characters of one `"key": value` line of an object, with its leading newline."""
    return 1 + level + len(json.dumps(key)) + 2 + value_size


def _object_size(entry_sizes: Sequence[int], level: int) -> int:
    """Characters of an object whose entries are `level + 1` deep."""
    if not entry_sizes:
        return 2
    return 1 + sum(entry_sizes) + len(entry_sizes) - 1 + 1 + level + 1


def _entry(key: str, value: Any) -> int:
    """The size of an entry of a template section (Resources, Outputs, ...)."""
    return _entry_size(key, _value_size(value, 2), 2)


# --- imports: what a child takes from the root -------------------------------------------------


@dataclass(frozen=True)
class _Import:
    key: str  # the canonical JSON of `value`: equal keys are the same import
    base: str  # the parameter name it would like
    value: Any  # what the root passes, evaluated in the root
    declaration: dict[str, Any]  # the child's Parameters entry
    resource: str | None  # the root resource it makes the nested stack wait for


def _import(value: Any, base: str, declaration: dict[str, Any], resource: str | None) -> _Import:
    key = json.dumps(value, sort_keys=True)
    return _Import(key, _NOT_ALPHANUMERIC.sub("", base), value, declaration, resource)


def _parameter_import(name: str, parameter: Mapping[str, Any]) -> _Import:
    kind = str(parameter.get("Type", "String"))
    resolved = _SSM_VALUE.fullmatch(kind)
    if resolved:
        kind = resolved.group(1)
        if kind == "List<String>":
            kind = "CommaDelimitedList"
    declaration: dict[str, Any] = {"Type": kind}
    if "NoEcho" in parameter:
        declaration["NoEcho"] = parameter["NoEcho"]
    value: Any = {"Ref": name}
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        value = {"Fn::Join": [",", value]}
    return _import(value, name, declaration, None)


def _resource_import(target: str, attribute: Any) -> _Import:
    string = {"Type": "String"}
    if attribute is None:
        return _import({"Ref": target}, target, string, target)
    if isinstance(attribute, str):
        return _import({"Fn::GetAtt": [target, attribute]}, target + attribute, string, target)
    return _import({"Fn::GetAtt": [target, attribute]}, target + "Attribute", string, target)


def _parameter_names(imports: Iterable[_Import], taken: Iterable[str]) -> dict[str, str]:
    """Import key -> parameter name; see the module docstring."""
    taken = set(taken)
    by_base: dict[str, list[_Import]] = {}
    for item in sorted({i.key: i for i in imports}.values(), key=lambda i: i.key):
        by_base.setdefault(item.base, []).append(item)
    names = {}
    for base, items in by_base.items():
        for item in items:
            own_id = item.value in ({"Ref": base}, {"Fn::Join": [",", {"Ref": base}]})
            clash = not own_id and (len(items) > 1 or base in taken)
            if clash or not base or len(base) > NAME_LENGTH:
                digest = hashlib.sha256(item.key.encode("utf-8")).hexdigest()[:HASH_LENGTH]
                names[item.key] = base[: NAME_LENGTH - HASH_LENGTH] + digest
            else:
                names[item.key] = base
    return names


# --- the split ---------------------------------------------------------------------------------


@dataclass
class _Unit:
    """Groups that go into one child together, with everything they take along."""

    groups: list[str]
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    imports: dict[str, _Import] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)
    mappings: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # root resources it has a DependsOn on
    resource_sizes: list[int] = field(default_factory=list)
    output_sizes: list[int] = field(default_factory=list)


class _Splitter:
    def __init__(self, flat: dict[str, Any], groups: Mapping[str, str], limits: Limits) -> None:
        self.flat = flat
        self.limits = limits
        self.resources: dict[str, Any] = flat.get("Resources") or {}
        self.outputs: dict[str, Any] = flat.get("Outputs") or {}
        self.parameters: dict[str, Any] = flat.get("Parameters") or {}
        self.conditions: dict[str, Any] = flat.get("Conditions") or {}
        self.mappings: dict[str, Any] = flat.get("Mappings") or {}
        unknown = sorted(set(groups) - set(self.resources))
        if unknown:
            raise ValueError(f"groups name resources the template lacks: {', '.join(unknown)}")
        if "Transform" in flat:
            raise ValueError("a template with a Transform cannot be split into nested stacks")
        self.group_of = {r: groups[r] for r in self.resources if r in groups}
        self.order = list(dict.fromkeys(self.group_of.values()))
        self.taken = [*self.resources, *self.parameters, *self.conditions, *self.mappings]
        # Packing measures each candidate child again as units join it; an entry's size never
        # changes, so it is measured once (else packing grows with the square of the units).
        self.entry_sizes: dict[tuple[str, str], int] = {}

    def _sized(self, section: str, key: str, value: Any) -> int:
        size = self.entry_sizes.get((section, key))
        if size is None:
            size = self.entry_sizes[section, key] = _entry(key, value)
        return size

    def run(self) -> Stacks:
        pinned, units, homes = self._placement()
        self._fill(units, homes)
        names = _parameter_names((i for unit in units for i in unit.imports.values()), self.taken)
        wanted = {c for unit in units for c in unit.conditions}
        conditions = self._child_conditions(wanted, names)
        for unit in units:
            self._rewrite_unit(unit, names)
        packed = self._pack(units, names, conditions)
        children = {name: self._child(name, members, names, conditions) for name, members in packed}
        root = self._root(packed, names)
        problems = _over(
            _counts(root), template_bytes(root) + len(packed) * self.limits.url_bytes, self.limits
        )
        if problems:
            raise ValueError(
                "even with every movable group in a nested stack, the root template has "
                + " and ".join(problems)
                + self._root_explanation(pinned)
            )
        return Stacks(root, children)

    # placement: which groups stay, which go together -------------------------------------------

    def _group_targets(self, node: Any) -> list[str]:
        return [self.group_of[t] for t in _targets(node) if t in self.group_of]

    def _placement(self) -> tuple[set[str], list[_Unit], dict[str, int]]:
        """Pinned groups, the units of the others in app order, and output -> unit index."""
        edges: dict[str, set[str]] = {g: set() for g in self.order}
        seeds: set[str] = set()
        for logical_id, resource in self.resources.items():
            referenced = self._group_targets(resource)
            referenced += [self.group_of[d] for d in _depends_on(resource) if d in self.group_of]
            own = self.group_of.get(logical_id)
            if own is None:
                seeds.update(referenced)
            else:
                edges[own].update(g for g in referenced if g != own)
        output_groups = {key: self._group_targets(o) for key, o in self.outputs.items()}
        while True:
            pinned = _reachable(seeds, edges)
            units = _components([g for g in self.order if g not in pinned], edges)
            unit_of = {g: index for index, unit in enumerate(units) for g in unit}
            homes: dict[str, int] = {}
            more: set[str] = set()
            for key, referenced in output_groups.items():
                indexes = sorted({unit_of[g] for g in referenced if g in unit_of})
                if len(indexes) == 1:
                    homes[key] = indexes[0]
                elif indexes:
                    more.update(g for g in referenced if g in unit_of)
            if not more:
                return pinned, [_Unit(groups=unit) for unit in units], homes
            seeds |= more

    # what each unit takes along ----------------------------------------------------------------

    def _importer(self, local: Iterable[str], found: dict[str, _Import]) -> Resolve:
        local = set(local)

        def resolve(target: str, attribute: Any) -> str | None:
            item: _Import | None = None
            if target in local:
                return None
            if target in PER_STACK_PSEUDO and attribute is None:
                item = _import({"Ref": target}, PER_STACK_PSEUDO[target], {"Type": "String"}, None)
            elif target in self.resources:
                item = _resource_import(target, attribute)
            elif target in self.parameters and attribute is None:
                item = _parameter_import(target, self.parameters[target])
            if item is not None:
                found.setdefault(item.key, item)
            return None

        return resolve

    def _condition_closure(self, names: Iterable[str]) -> list[str]:
        """The conditions `names` need, their own conditions included, in template order."""
        needed: set[str] = set()
        pending = [n for n in names if n in self.conditions]
        while pending:
            name = pending.pop()
            if name in needed:
                continue
            needed.add(name)
            uses = _Uses()
            _rewrite(self.conditions[name], lambda t, a: None, uses)
            pending.extend(n for n in uses.conditions if n in self.conditions)
        return [n for n in self.conditions if n in needed]

    def _fill(self, units: list[_Unit], homes: Mapping[str, int]) -> None:
        in_group: dict[str, list[str]] = {}
        for resource, group in self.group_of.items():
            in_group.setdefault(group, []).append(resource)
        at_home: dict[int, list[str]] = {}
        for key in self.outputs:
            if key in homes:
                at_home.setdefault(homes[key], []).append(key)
        position = {resource: i for i, resource in enumerate(self.resources)}
        for index, unit in enumerate(units):
            local = sorted(
                (r for group in unit.groups for r in in_group.get(group, [])),
                key=position.__getitem__,
            )
            unit.resources = {r: self.resources[r] for r in local}
            unit.outputs = {k: self.outputs[k] for k in at_home.get(index, [])}
            resolve = self._importer(local, unit.imports)
            uses = _Uses()
            for resource in unit.resources.values():
                _rewrite(resource, resolve, uses)
                for target in _depends_on(resource):
                    if target not in unit.resources and target in self.resources:
                        unit.after.append(target)
            for output in unit.outputs.values():
                _rewrite(output, resolve, uses)
            unit.conditions = self._condition_closure(uses.conditions)
            mappings = set(uses.mappings)
            for name in unit.conditions:
                condition_uses = _Uses()
                _rewrite(self.conditions[name], resolve, condition_uses)
                mappings.update(condition_uses.mappings)
            unit.mappings = [m for m in self.mappings if m in mappings]

    def _renamer(self, local: Iterable[str], names: Mapping[str, str]) -> Resolve:
        found: dict[str, _Import] = {}
        record = self._importer(local, found)

        def resolve(target: str, attribute: Any) -> str | None:
            found.clear()
            record(target, attribute)
            return next((names[key] for key in found), None)

        return resolve

    def _child_conditions(self, wanted: set[str], names: Mapping[str, str]) -> dict[str, Any]:
        resolve = self._renamer((), names)
        return {k: _rewrite(c, resolve, _Uses()) for k, c in self.conditions.items() if k in wanted}

    def _rewrite_unit(self, unit: _Unit, names: Mapping[str, str]) -> None:
        resolve = self._renamer(unit.resources, names)
        resources = {}
        for logical_id, resource in unit.resources.items():
            moved = _rewrite(resource, resolve, _Uses())
            if "DependsOn" in moved:
                kept = [d for d in _depends_on(resource) if d in unit.resources]
                if not kept:
                    del moved["DependsOn"]
                elif isinstance(moved["DependsOn"], list):
                    moved["DependsOn"] = kept
            resources[logical_id] = moved
        unit.resources = resources
        unit.outputs = {k: _rewrite(o, resolve, _Uses()) for k, o in unit.outputs.items()}
        unit.resource_sizes = [_entry(k, r) for k, r in unit.resources.items()]
        unit.output_sizes = [_entry(k, o) for k, o in unit.outputs.items()]

    # packing -----------------------------------------------------------------------------------

    def _pack(
        self, units: list[_Unit], names: Mapping[str, str], conditions: Mapping[str, Any]
    ) -> list[tuple[str, list[_Unit]]]:
        packed: list[tuple[str, list[_Unit]]] = []
        current: list[_Unit] = []
        for unit in units:
            name = f"{CHILD_PREFIX}{len(packed) + 1}"
            if current and not self._child_problems(name, [*current, unit], names, conditions):
                current.append(unit)
                continue
            if current:
                packed.append((name, current))
                name = f"{CHILD_PREFIX}{len(packed) + 1}"
            problems = self._child_problems(name, [unit], names, conditions)
            if problems:
                raise ValueError(
                    f"{_describe(unit.groups)} alone would need a nested stack with "
                    + " and ".join(problems)
                )
            current = [unit]
        if current:
            packed.append((f"{CHILD_PREFIX}{len(packed) + 1}", current))
        clashes = [n for n, _ in packed if n in self.taken]
        if clashes:
            raise ValueError(
                f"the template already uses {', '.join(clashes)}, the name of a nested stack"
            )
        return packed

    def _child_problems(
        self,
        name: str,
        units: Sequence[_Unit],
        names: Mapping[str, str],
        conditions: Mapping[str, Any],
    ) -> list[str]:
        """What the child of `units` would be over, measured without building it."""
        parameters = _child_parameters(units, names)
        wanted_conditions = {c for unit in units for c in unit.conditions}
        wanted_mappings = {m for unit in units for m in unit.mappings}
        sections = [
            ("Parameters", [self._sized("Parameters", k, v) for k, v in parameters.items()]),
            (
                "Mappings",
                [
                    self._sized("Mappings", k, v)
                    for k, v in self.mappings.items()
                    if k in wanted_mappings
                ],
            ),
            (
                "Conditions",
                [
                    self._sized("Conditions", k, v)
                    for k, v in conditions.items()
                    if k in wanted_conditions
                ],
            ),
            ("Resources", [s for unit in units for s in unit.resource_sizes]),
            ("Outputs", [s for unit in units for s in unit.output_sizes]),
        ]
        top = [
            _entry_size("AWSTemplateFormatVersion", _value_size(FORMAT_VERSION, 1), 1),
            _entry_size("Description", _value_size(self._description(name), 1), 1),
        ]
        top += [
            _entry_size(section, _object_size(sizes, 1), 1)
            for section, sizes in sections
            if sizes or section == "Resources"
        ]
        counts = {section: len(sizes) for section, sizes in sections}
        return _over(counts, _object_size(top, 0) + 1, self.limits)

    # the templates -----------------------------------------------------------------------------

    def _description(self, name: str) -> str:
        description = str(self.flat.get("Description", ""))
        if not description:
            return f"nested stack {name}"
        suffix = f" (nested stack {name})"
        room = DESCRIPTION_BYTES - len(suffix.encode("utf-8"))
        return description.encode("utf-8")[:room].decode("utf-8", errors="ignore") + suffix

    def _child(
        self,
        name: str,
        units: Sequence[_Unit],
        names: Mapping[str, str],
        conditions: Mapping[str, Any],
    ) -> dict[str, Any]:
        wanted_conditions = {c for unit in units for c in unit.conditions}
        wanted_mappings = {m for unit in units for m in unit.mappings}
        sections = {
            "Parameters": _child_parameters(units, names),
            "Mappings": {k: v for k, v in self.mappings.items() if k in wanted_mappings},
            "Conditions": {k: v for k, v in conditions.items() if k in wanted_conditions},
            "Resources": {k: v for unit in units for k, v in unit.resources.items()},
            "Outputs": {k: v for unit in units for k, v in unit.outputs.items()},
        }
        child: dict[str, Any] = {
            "AWSTemplateFormatVersion": FORMAT_VERSION,
            "Description": self._description(name),
        }
        for section, content in sections.items():
            if content or section == "Resources":
                child[section] = copy.deepcopy(content)
        return child

    def _stack(self, name: str, units: Sequence[_Unit], names: Mapping[str, str]) -> dict[str, Any]:
        imports = {names[i.key]: i for unit in units for i in unit.imports.values()}
        passed = {n: imports[n].value for n in sorted(imports)}
        implied = {i.resource for i in imports.values()}
        after = sorted({r for unit in units for r in unit.after} - implied)
        stack: dict[str, Any] = {"Type": STACK_TYPE}
        if after:
            stack["DependsOn"] = after
        properties: dict[str, Any] = {"TemplateURL": child_file(name)}
        if passed:
            properties["Parameters"] = passed
        stack["Properties"] = properties
        return stack

    def _root(
        self, packed: Sequence[tuple[str, list[_Unit]]], names: Mapping[str, str]
    ) -> dict[str, Any]:
        moved = {r for _, units in packed for unit in units for r in unit.resources}
        moved_outputs = {k for _, units in packed for unit in units for k in unit.outputs}
        resources = {k: v for k, v in self.resources.items() if k not in moved}
        outputs = {k: v for k, v in self.outputs.items() if k not in moved_outputs}
        for name, units in packed:
            resources[name] = self._stack(name, units, names)
        kept = [resources, outputs, self.flat.get("Rules") or {}, self.flat.get("Metadata") or {}]
        moved_uses = _Uses()
        for _, units in packed:
            for unit in units:
                moved_uses.conditions += unit.conditions
                moved_uses.mappings += unit.mappings
        root_uses = _Uses()
        _rewrite(kept, lambda t, a: None, root_uses)
        conditions = set(self._condition_closure(root_uses.conditions))
        conditions |= set(self.conditions) - set(moved_uses.conditions)
        for name in conditions:
            _rewrite(self.conditions[name], lambda t, a: None, root_uses)
        mappings = set(root_uses.mappings) | (set(self.mappings) - set(moved_uses.mappings))
        sections = {
            "Resources": resources,
            "Outputs": outputs,
            "Conditions": {k: v for k, v in self.conditions.items() if k in conditions},
            "Mappings": {k: v for k, v in self.mappings.items() if k in mappings},
        }
        root: dict[str, Any] = {}
        for key, value in self.flat.items():
            if key not in sections:
                root[key] = value
            elif sections[key] or key == "Resources":
                root[key] = sections[key]
        return root

    def _root_explanation(self, pinned: set[str]) -> str:
        shared = sum(1 for r in self.resources if r not in self.group_of)
        text = f"; {shared} resources belong to no group"
        if pinned:
            kept = [g for g in self.order if g in pinned]
            text += f", and the root references {_describe(kept)}, which therefore stay"
        return text


def _child_parameters(units: Iterable[_Unit], names: Mapping[str, str]) -> dict[str, Any]:
    declared = {names[i.key]: i.declaration for unit in units for i in unit.imports.values()}
    return {name: declared[name] for name in sorted(declared)}


def _reachable(seeds: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(seeds)
    while pending:
        group = pending.pop()
        if group not in found:
            found.add(group)
            pending.extend(edges.get(group, ()))
    return found


def _components(order: Sequence[str], edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Groups connected by references either way, each in `order`, by their first member."""
    members = set(order)
    neighbours: dict[str, set[str]] = {g: set() for g in order}
    for group in order:
        for other in edges.get(group, ()):
            if other in members:
                neighbours[group].add(other)
                neighbours[other].add(group)
    position = {g: i for i, g in enumerate(order)}
    seen: set[str] = set()
    components = []
    for group in order:
        if group in seen:
            continue
        component = _reachable([group], neighbours)
        seen |= component
        components.append(sorted(component, key=position.__getitem__))
    return components


def _describe(groups: Sequence[str]) -> str:
    if len(groups) == 1:
        return f"group {groups[0]}"
    return "groups " + ", ".join(groups)
