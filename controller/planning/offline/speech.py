"""Speech acts: is the person asking something, reporting a problem, forbidding a change, or commanding one?

Why before intents: the intent classifier hears words ("restart", "replicas", "allow"); it cannot tell
"why did api restart?" from "restart api", nor "don't scale web, just tell me its replicas" from
"scale web". Deciding the act first keeps questions and problem reports read-only: a question gets an
answer, a problem gets a diagnosis that may *offer* a fix, and only a command may become a plan.

Rules, in order (pure functions of one text, lower-cased):
1. negated: "don't change anything", "without touching it", "leave it as it is", "read-only" ->
   read-only, whatever else the text says;
2. a fix asked for ("fix it", "repair", "sort out") -> problem, with the fix wanted;
3. an imperative action verb starting a clause ("scale ...", "can you restart ...", ", so pause ...")
   -> command;
4. symptoms ("keeps crashing", "0/1 ready", "no endpoints", "never starts", "what's going on") -> problem;
5. a question form (wh-word, auxiliary first, "tell me", a final "?") -> question;
6. anything else (statements of intent: "we need a 20Gi volume", "I'd like web at 4") -> command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ActKind = Literal["command", "question", "problem", "negated"]

ACTION_VERBS = (
    "scale", "restart", "bounce", "recycle", "reboot", "redeploy", "roll", "rollback", "revert", "undo", "upgrade",
    "downgrade", "update", "set", "change", "raise", "lower", "increase", "decrease", "reduce", "bump", "give",
    "add", "remove", "drop", "delete", "unset", "label", "annotate", "tag", "create", "make", "expose", "publish",
    "suspend", "pause", "resume", "unpause", "harden", "enable", "disable", "allow", "permit", "block", "deny",
    "forbid", "grow", "expand", "resize", "double", "halve", "triple", "attach", "put", "run", "deploy", "start",
    "stop", "install", "schedule", "provision", "spin", "switch", "pin", "bind", "grant", "connect", "hook",
    "let", "lock", "restrict", "isolate", "limit", "cap", "mark", "apply", "autoscale", "protect", "open",
    "erase", "destroy", "wipe", "kill", "take", "use", "point", "route", "rename", "move", "copy", "mount",
    "assign", "configure", "setup", "cut", "shrink", "keep", "ensure", "go", "hook", "suspend", "do", "trigger",
    "roll out",
)
FIX_VERBS = r"fix|repair|resolve|sort\s+out|get\s+\S+\s+(?:working|running|up)(?:\s+again)?|make\s+\S+\s+work(?:\s+again)?"
_FILLER = (r"(?:please|pls|kindly|also|then|and|now|so|just|finally|first|next|additionally|afterwards|"
           r"in the same change|at the same time|while you(?:'re| are) at it|after that|"
           r"(?:can|could|would|will) you(?: please)?|would you mind|i(?:'d| would) like you to|"
           r"i want you to|i need you to|go ahead and|let's|lets)")

_NEGATED = re.compile(
    r"\b(?:don'?t|do not|never|without|no need to|not)\s+(?:\w+\s+){0,2}?(?:change|touch|modify|edit|alter|apply|"
    r"mutate|scale|restart|update|deploy|delete|fix|changing|touching|modifying|editing|altering|applying|"
    r"scaling|restarting|updating|deploying|deleting|fixing)\b"
    r"|\bleave\s+(?:everything|things|all|anything|the cluster)(?:\s+else)?\s+(?:as (?:it|they) (?:is|are)|alone|untouched)"
    r"|^\s*(?:please\s+)?leave\s+(?:it|them|\S+)\s+(?:as (?:it|they) (?:is|are)|alone|untouched)\b"
    r"|\bread[- ]only (?:mode|answer|question|request|please|check|look)\b|\b(?:stay|be|keep it|keeping it) read[- ]only\b"
    r"|\bno changes?\b|\bjust (?:tell|show|let me know|report|describe|explain)\b"
)
_SYMPTOM = re.compile(
    r"\b(?:keeps?|kept|is|are|was|were)\s+(?:\w+\s+){0,2}?(?:crash\w*|restart\w*|fail\w*|dying|dead|down|broken|"
    r"stuck|hanging|slow|unhealthy|pending|erroring|flapping|oomkill\w*)\b"
    r"|\b(?:crash\w*|crashloop\w*|oomkill\w*|imagepull\w*|errimage\w*|backoff|evicted|unschedulable|"
    r"failedscheduling|not ready|0/\d+ ready|no endpoints|no traffic|never (?:start|starts|started|bind|binds|"
    r"becomes?|comes? up|gets? ready)|won'?t (?:start|bind|come up)|can'?t (?:start|connect|pull)|"
    r"doesn'?t (?:start|work|respond)|not (?:starting|working|running|responding|coming up|binding))\b"
    r"|\bwhat(?:'s| is| was)? (?:going on|wrong|happening|broken)\b|\bwhat happened\b|\bwhy\b"
    r"|\b(?:it|they|pods?|\S+) (?:restarted|crashed|died|failed)\b|\brestarted (?:\w+ )?(?:times|twice)\b"
    r"|\b(?:troubleshoot|diagnose|investigate|debug|root cause|look into|figure out|find out)\b"
    r"|\bis (?:\w+ )?(?:almost |nearly )?full\b|\berrors?\b|\bseems? (?:broken|slow|down|off|wrong)\b"
)
_SUBJECT = (r"(?:i|you|we|they|it|he|she|there|any|all|these|those|the|this|that|my|our|your|their|its|"
            r"[a-z0-9][a-z0-9-]*\s+(?:have|has|run|use|still|already|exist|need|get|look))")
_QUESTION_START = re.compile(
    r"^(?:how(?: many| much| big| large| long| often| would| do| does| can| is| are)?|what|which|who|whom|whose|"
    r"where|when|should|shall|can i|could i|may i|am i)\b"
    rf"|^(?:is|are|does|do|did|has|have|had|was|were|will)\s+{_SUBJECT}\b"
    r"|^(?:is|are|does|do|did|has|have|had|was|were|will)\b(?=.*\?\s*$)"
    r"|^(?:(?:can|could|would|will) you\s+(?:please\s+)?)?(?:tell|show|list|describe|explain|give me (?:the|a) "
    r"(?:list|status|summary|overview)|let me know|check (?:whether|if)|find out (?:whether|if))\b"
    r"|^(?:i(?:'d| would) like to know|i want to know|i wonder|do you know)\b"
)


@dataclass(frozen=True)
class Act:
    kind: ActKind
    wants_fix: bool = False
    why: str = ""

    @property
    def read_only(self) -> bool:
        return self.kind != "command"


def _verb_forms(verb: str) -> str:
    stem = verb[:-1] if verb.endswith("e") and verb not in ("see",) else verb
    double = stem + stem[-1] if re.search(r"[^aeiou][aeiou][bdgmnprt]$", stem) and len(stem) <= 5 else stem
    return rf"{verb}|{stem}ing|{double}ing"


_VERBS = "|".join(_verb_forms(v) for v in sorted(set(ACTION_VERBS), key=len, reverse=True))
_IMPERATIVE = re.compile(rf"^(?:{_FILLER}\s+)*(?:{_VERBS})\b")
_FIX = re.compile(rf"(?:^|\b(?:and|then|please|to)\s+|^(?:{_FILLER}\s+)*)(?:{FIX_VERBS})\b")


def segments(text: str) -> list[str]:
    """Clause starts: the text cut at punctuation and at joining words ("so", "then", "and", "but")."""
    low = re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).strip()
    parts = re.split(r"[,;:.!?]\s+|[,;:!?]$|\s+-\s+|\b(?:so|then|and|but|also|please)\b", low)
    return [p.strip(" .") for p in parts if p and p.strip(" .")]


def classify_act(text: str) -> Act:
    """The speech act of one turn (see the module docstring for the rules)."""
    low = re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).strip()
    if not low:
        return Act("command")
    if _NEGATED.search(low):
        return Act("negated", why="asks not to change anything")
    parts = segments(low)
    fix = any(_FIX.match(p) for p in parts) or re.search(rf"\b(?:{FIX_VERBS})\s+(?:it|them|this|that|the)\b", low)
    if fix and not re.search(r"\bto\s+\S*\d|[\w./-]+=[\w.-]+", low):  # "fix the probe port to 9001" is a command
        return Act("problem", wants_fix=True, why="asks to fix a problem")
    if _QUESTION_START.match(low) and not re.match(rf"^(?:can|could|would|will) you\s+(?:please\s+)?(?:{_VERBS})\b",
                                                   low):
        if _SYMPTOM.search(low):
            return Act("problem", why="asks about a problem")
        return Act("question", why="asks a question")
    if any(_IMPERATIVE.match(p) for p in parts) and not _starts_with_symptom_question(low):
        return Act("command", why="an imperative")
    if _SYMPTOM.search(low):
        return Act("problem", why="reports a problem")
    if low.endswith("?"):
        return Act("question", why="ends with a question mark")
    return Act("command", why="a statement of what is wanted")


def _starts_with_symptom_question(low: str) -> bool:
    return bool(re.match(r"^(?:why|what(?:'s| is)? (?:wrong|going on|happening)|what happened)\b", low))


# ---------------------------------------------------------------- several steps in one request

STEP_VERBS = (
    "scale", "restart", "bounce", "recycle", "roll", "rollback", "revert", "upgrade", "update", "set", "change",
    "raise", "lower", "increase", "decrease", "reduce", "bump", "give", "add", "remove", "drop", "delete", "unset",
    "label", "annotate", "tag", "create", "expose", "suspend", "pause", "resume", "unpause", "harden", "enable",
    "disable", "allow", "block", "deny", "grow", "expand", "resize", "double", "halve", "triple", "attach", "put",
    "deploy", "install", "schedule", "point", "switch", "pin", "bind", "grant", "restrict", "lock", "protect",
    "autoscale", "cap", "limit", "make", "run", "start", "stop", "move", "rename",
)
_LIST_VERBS = frozenset({*STEP_VERBS, "get", "list", "watch", "read", "write", "patch", "view", "edit", "delete",
                         "create", "update"})
_STEP_FILLER = (r"(?:please|also|then|now|finally|next|additionally|afterwards|after that|too|"
                r"in the same change|in the same plan|at the same time|while you(?:'re| are) at it|"
                r"(?:can|could|would|will) you(?: please)?|i(?:'d| would) like you to)")
_STEP_VERB = re.compile(rf"^[\s,]*(?:{_STEP_FILLER}[\s,]+)*(?:{'|'.join(STEP_VERBS)})\b", re.I)
_JOIN = re.compile(r"\s*;\s*|\s*,?\s+and then\s+|\s*,?\s+then\s+|\s*,?\s+after that,?\s+|\s*,?\s+and also\s+"
                   r"|\s*,\s*also\s+|\s*,?\s+and\s+|\s*,?\s+plus\s+|\s*,\s+", re.I)


def split_steps(text: str) -> list[str]:
    """The request cut into ordered steps, where a joining word is followed by a new action verb.

    "scale api to 4 and raise its memory limit to 1Gi" -> two steps; "set cpu 250m and memory 512Mi"
    stays one (no verb after "and"); ";" and "then" always cut when a verb follows. Sentences are not
    cut: a second sentence usually details the first ("... Use the nginx ingress class").
    """
    steps: list[str] = []
    text = text.strip()
    rest = re.sub(r",\s*((?:in the same (?:change|plan)|at the same time|while you(?:'re| are) at it|please|too|also))\s*,",
                  r" \1", text.strip(), flags=re.I)
    rest = re.sub(r"\b(and|then)\s*,\s*", r"\1 ", rest, flags=re.I)
    start = 0
    pieces: list[str] = []
    for m in _JOIN.finditer(rest):
        tail = rest[m.end():]
        before = re.findall(r"[a-z]+", rest[start:m.start()].lower())
        listed = bool(before) and before[-1] in _LIST_VERBS  # "get, update and patch": a list of verbs, one step
        if _STEP_VERB.match(tail) and rest[start:m.start()].strip() and not listed:
            pieces.append(rest[start:m.start()])
            start = m.end()
    pieces.append(rest[start:])
    if len(pieces) > 1 and not _STEP_VERB.match(pieces[0]) and not _IMPERATIVE.match(pieces[0].lower()):
        pieces = [f"{pieces[0].rstrip(' ,')}, {pieces[1]}", *pieces[2:]]  # "in config map x, set K to v": one step
    for piece in pieces:
        clean = re.sub(rf"^[\s,]*(?:{_STEP_FILLER}[\s,]+)*", "", piece.strip(), flags=re.I).strip(" ,.")
        if clean:
            steps.append(clean)
    return steps or [text.strip()]


def has_symptom(text: str) -> bool:
    """Whether the text describes something failing (the words of a problem report)."""
    return bool(_SYMPTOM.search(re.sub(r"\s+", " ", text.lower().replace("\u2019", "'"))))
