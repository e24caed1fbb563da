"""CEL as kube-apiserver runs it for admission, on top of cel-python: short-circuit, lazy variables.

Why: the sandbox evaluates the chart's ValidatingAdmissionPolicy in real CEL (sandbox/vap.py), and
a long conversation made that the API server's hot path. cel-python's interpreter evaluates *both*
operands of `||` and `&&` before combining them, so `request.operation != 'CREATE' || turns.all(...)`
walked every turn of a 500-turn thread on every UPDATE (a sub-evaluator per element, about a
millisecond each) although the left side was already true. CEL is side-effect free and its `||`/`&&`
are defined so that `true || x` is `true` and `false && x` is `false` whatever `x` is (an error
included; cel-python's own `logical_or`/`logical_and` say the same), so stopping after a deciding left
operand gives exactly the same results as evaluating both — cel-go does the same.

Likewise a policy's `variables` are evaluated lazily, once per request, when an expression first uses
them (as the apiserver's composition environment does), and only against the variables declared before
them; the request's objects are converted to CEL values by `to_cel`, which gives what
`celpy.adapter.json_to_cel` gives for JSON without its `typing` isinstance checks (those were a third
of the conversion time), and converts an object's fields only when an expression reaches them. Two
objects or lists holding the very same JSON are equal without a walk through CEL values, and an object
from JSON is not even turned into a map until something reads it: the policy's "turns may only grow by
one" compares 500 turns with themselves on every message and reads one of them (130 → 8 ms).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, cast

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, Evaluator, Result

from sandbox.jsoncopy import identical

_Tree = lark.Tree[lark.Token]


class CelError(Exception):
    """A compile or evaluation error of one expression, worded as the apiserver words it."""

    def __init__(self, expression: str, error: Exception) -> None:
        super().__init__(f"expression '{expression}' resulted in error: {error}")


class _ShortCircuitEvaluator(Evaluator):
    """cel-python's interpreter, but `||` and `&&` stop after a left operand that decides them."""

    def sub_evaluator(self, ast: _Tree) -> Evaluator:
        return _ShortCircuitEvaluator(ast, activation=self.activation)

    def _logical(self, tree: _Tree, operator: str, decides: bool) -> Result:
        if len(tree.children) == 1:
            return cast(Result, self.visit(cast(_Tree, tree.children[0])))
        left = self.visit(cast(_Tree, tree.children[0]))
        if isinstance(left, celtypes.BoolType) and bool(left) is decides:
            return cast(Result, left)
        right = self.visit(cast(_Tree, tree.children[1]))
        func = self.activation.resolve_function(operator)
        try:
            return cast(Result, func(left, right))
        except TypeError as ex:
            value = CELEvalError(
                f"found no matching overload for {operator} applied to '({type(left)}, {type(right)})'",
                ex.__class__, ex.args, tree=tree,
            )
            value.__cause__ = ex
            return value

    def conditionalor(self, tree: _Tree) -> Result:
        return self._logical(tree, "_||_", True)

    def conditionaland(self, tree: _Tree) -> Result:
        return self._logical(tree, "_&&_", False)


class _ShortCircuitRunner(celpy.InterpretedRunner):
    def evaluate(self, context: Any) -> celtypes.Value:
        return _ShortCircuitEvaluator(ast=self.ast, activation=self.new_activation()).evaluate(context)


def _join(items: celtypes.ListType, separator: celtypes.StringType | None = None) -> celtypes.StringType:
    """The Kubernetes strings library's `list.join(sep)`, which cel-python lacks."""
    return celtypes.StringType(str(separator or "").join(str(item) for item in items))


_FUNCTIONS: dict[str, Any] = {"join": _join}
_ENV = celpy.Environment(runner_class=_ShortCircuitRunner)


@functools.lru_cache(maxsize=512)
def _program(expression: str) -> celpy.Runner:
    return _ENV.program(_ENV.compile(expression), functions=_FUNCTIONS)


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    """Compile (cached by text) and evaluate one expression; any failure is a `CelError`."""
    try:
        return _program(expression).evaluate(dict(activation))
    except (CELEvalError, CELParseError, TypeError, ValueError, KeyError) as error:
        raise CelError(expression, error) from error


def to_cel(document: Any) -> Any:
    """A JSON value (dicts, lists, str, int, float, bool, None) as CEL values, like `json_to_cel`; objects
    and lists are `LazyObject`s and `JsonList`s, converted as an expression reaches into them."""
    kind = type(document)
    if kind is dict:
        return LazyObject(document)
    if kind is list:
        return JsonList(document)
    if kind is str:
        return celtypes.StringType(document)
    if kind is bool:
        return celtypes.BoolType(document)
    if kind is int:
        return celtypes.IntType(document)
    if kind is float:
        return celtypes.DoubleType(document)
    if document is None:
        return None
    return celpy.adapter.json_to_cel(document)  # subclasses, tuples, datetimes: the general path


class _FromJson:
    """What a CEL value converted from JSON keeps: `source`, the JSON itself, so that equality can first ask
    whether both sides hold the very same JSON (a C-speed comparison, types included: then CEL calls them
    equal too) before CEL's own comparison item by item and field by field."""

    source: Any

    def _same_json(self, other: Any) -> bool:
        theirs = getattr(other, "source", None)
        return theirs is not None and identical(self.source, theirs)

    def __eq__(self, other: Any) -> bool:
        return self._same_json(other) or super().__eq__(other)

    def __ne__(self, other: Any) -> bool:
        return not self._same_json(other) and super().__ne__(other)


class JsonList(_FromJson, celtypes.ListType):
    """A JSON array as a CEL list, its items converted by `to_cel`.

    The admission policy compares a 500-turn list with itself plus one on every append, which cel-python
    does item by item and field by field; items holding the same JSON are answered from it (`_FromJson`)."""

    def __init__(self, source: list[Any]) -> None:
        super().__init__([to_cel(item) for item in source])
        self.source = source


class _Unconverted:
    """A field of a `LazyObject` still in its JSON form."""

    __slots__ = ("json",)

    def __init__(self, json: Any) -> None:
        self.json = json


class LazyObject(_FromJson, celtypes.MapType):
    """A JSON object as a CEL map, converted as it is used: its keys on first use of the map, each field's
    value (`to_cel`) on first use of that field.

    An admitted object is mostly status and metadata that a policy on `spec` never reads; a long
    conversation's status is hundreds of KiB, and its 500 turns are 500 objects of which a policy reads
    one. Every way cel-python reads a map (indexing, field selection, `get`, `in`, `size()`, keys, equality,
    which indexes both sides) goes through the methods below, so what an expression sees is what `to_cel`
    gives. Equality of two objects holding the same JSON is answered from the JSON (`_FromJson`).
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        dict.__init__(self)
        self.source = document
        self._filled = False

    def _fill(self) -> None:
        if not self._filled:
            self._filled = True
            for key, value in self.source.items():
                dict.__setitem__(self, celtypes.StringType(key), cast(Any, _Unconverted(value)))

    def __getitem__(self, key: Any) -> Any:
        self._fill()
        value = super().__getitem__(key)
        if isinstance(value, _Unconverted):
            value = to_cel(value.json)
            dict.__setitem__(self, key, value)
        return value

    def get(self, key: Any, default: Any | None = None) -> Any:
        return self[key] if key in self else super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def __iter__(self) -> Any:
        self._fill()
        return dict.__iter__(self)

    def keys(self) -> Any:
        self._fill()
        return dict.keys(self)

    def values(self) -> Any:
        return [self[key] for key in self]

    def items(self) -> Any:
        return [(key, self[key]) for key in self]

    def __repr__(self) -> str:
        return f"MapType({dict(self.items())!r})"


class _Pending:
    """A variable not evaluated yet: its definition's position in the policy."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _VariablesView(celtypes.MapType):
    """`variables` as one expression sees it: names declared before it, each evaluated on first use."""

    def __init__(self, owner: Variables, visible: Mapping[str, int]) -> None:
        super().__init__({celtypes.StringType(name): _Pending(index) for name, index in visible.items()})
        self._owner = owner

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        if isinstance(value, _Pending):
            value = self._owner.value(value.index)
            dict.__setitem__(self, key, value)
        return value

    def get(self, key: Any, default: Any | None = None) -> Any:
        return self[key] if key in self else super().get(key, default)


class Variables:
    """A policy's `spec.variables` for one request: each evaluated at most once, when first used.

    A variable sees only the variables declared before it (a later name is "no such member"); one that
    fails to evaluate yields its error wherever it is used, and only there.
    """

    def __init__(self, definitions: Sequence[Mapping[str, Any]], activation: Mapping[str, Any]) -> None:
        self._definitions = [(str(d["name"]), str(d["expression"])) for d in definitions]
        self._activation = activation
        self._values: dict[int, Any] = {}

    def _visible(self, upto: int) -> dict[str, int]:
        return {name: index for index, (name, _) in enumerate(self._definitions[:upto])}

    def view(self) -> celtypes.MapType:
        """All variables, for the policy's matchConditions, validations and messages."""
        return _VariablesView(self, self._visible(len(self._definitions)))

    def value(self, index: int) -> Any:
        if index not in self._values:
            expression = self._definitions[index][1]
            activation = {**self._activation, "variables": _VariablesView(self, self._visible(index))}
            try:
                self._values[index] = evaluate(expression, activation)
            except CelError as error:
                self._values[index] = CELEvalError(str(error))
        return self._values[index]

