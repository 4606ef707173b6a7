"""Classes by name: the number behind a class's full name or any of its comma-separated synonyms."""

from __future__ import annotations

from ..errors import DreamjaxError, UnknownNameError
from ..model import DreamModel


def class_names(model: DreamModel) -> tuple[str, ...]:
    names = getattr(model, "class_names", None)
    if not names or not getattr(model, "logits_layer", None):
        raise DreamjaxError(
            f"{model.name} has no named classes to dream toward",
            "use a layer, channel or guide objective instead",
        )
    return tuple(names)


def class_index(model: DreamModel, name: str | int) -> int:
    """The index of a class given by number, full name or any comma-separated synonym.

    Matching ignores case and outer spaces. A synonym shared by several classes (ImageNet has
    two "crane"s) is refused with the numbers to choose from.
    """
    names = class_names(model)
    text = str(name).strip()
    if text.isdigit():
        index = int(text)
        if index >= len(names):
            raise DreamjaxError(f"class number {index} is out of range", f"{model.name} has classes 0..{len(names) - 1}")
        return index
    wanted = text.lower()
    matches = [i for i, full in enumerate(names) if full.lower() == wanted]
    if not matches:
        matches = [i for i, full in enumerate(names) if wanted in _synonyms(full)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(f"{i} ({names[i]!r})" for i in matches)
        raise DreamjaxError(f"class {text!r} is ambiguous: it names classes {listed}", f"give the number, e.g. class={matches[0]}")
    choices = list(dict.fromkeys(s for full in names for s in _synonyms(full, lower=False)))
    raise UnknownNameError(f"class of {model.name}", text, choices)


def _synonyms(full: str, lower: bool = True) -> list[str]:
    parts = [part.strip() for part in full.split(",") if part.strip()]
    return [p.lower() for p in parts] if lower else parts


def class_label(model: DreamModel, index: int) -> str:
    """A class's shortest unambiguous text: its first synonym when that finds it, else its number."""
    first = _synonyms(class_names(model)[index], lower=False)[0]
    try:
        return first if class_index(model, first) == index else str(index)
    except DreamjaxError:
        return str(index)
