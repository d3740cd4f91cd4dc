"""File names in messages and reports, so that no name can act on the terminal that
shows it, nor be lost on the way to a JSON reader.

A name may hold any byte but ``/`` and NUL: an escape sequence (``ESC ] 0 ; ... BEL``
sets a terminal's title), a newline that fakes a second message, bytes that are not
UTF-8 (which Python holds as lone surrogates, ``os.fsdecode``'s surrogateescape).
"""

import base64
import itertools
import os
import unicodedata

# The C escapes GNU ls writes as letters; every other byte of a control character is octal.
_LETTERS = {"\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r"}


def _unsafe(character: str) -> bool:
    """A control character (C0, DEL, C1: U+009B is a CSI to some terminals) or a lone
    surrogate, which stands for a byte that is not UTF-8."""
    return unicodedata.category(character) in ("Cc", "Cs")


def _bytes_of(character: str) -> bytes:
    try:
        return character.encode("utf-8", "surrogateescape")  # a byte os.fsdecode could not decode
    except UnicodeEncodeError:
        return character.encode("utf-8", "surrogatepass")  # a surrogate that came from elsewhere


def _escaped(characters: str) -> str:
    """Each byte of ``characters`` as a C escape: ``\\n``, ``\\033``, ``\\302\\233``."""
    escapes = []
    for character in characters:
        if character in _LETTERS:
            escapes.append("\\" + _LETTERS[character])
        else:
            escapes.extend(f"\\{byte:03o}" for byte in _bytes_of(character))
    return "".join(escapes)


def quote_name(name: "str | bytes | os.PathLike[str] | os.PathLike[bytes]") -> str:
    """``name`` as a message shows it: as it is, unless it holds a control character or
    a byte that is not UTF-8; then quoted as GNU ``ls --quoting-style=shell-escape``
    does, ``'a'$'\\n''b.png'``, which a shell reads back as the exact name."""
    name = os.fsdecode(name)
    if not any(map(_unsafe, name)):
        return name
    parts = []
    for unsafe, characters in itertools.groupby(name, _unsafe):
        run = "".join(characters)
        parts.append(f"'$'{_escaped(run)}''" if unsafe else run.replace("'", "'\\''"))
    quoted = f"'{''.join(parts)}'"
    return quoted[:-2] if _unsafe(name[-1]) else quoted  # as ls: no empty '' at the end


def printable(text: str) -> str:
    """``text`` with each control character or non-UTF-8 byte still in it written as a
    C escape (``\\033``): the last guard before a message reaches a terminal, for names
    a library formatted without `quote_name`."""
    return "".join(_escaped(c) if _unsafe(c) else c for c in text)


def json_fields(key: str, name: "str | None") -> "dict[str, str | None]":
    """``{key: name}`` for a JSON report, readable by any JSON reader: a name that is
    not UTF-8 is given as text with U+FFFD for each undecodable byte, and its exact bytes
    in base64 under ``KEY_bytes``."""
    if name is None:
        return {key: None}
    data = os.fsencode(name)
    try:
        return {key: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {key: data.decode("utf-8", "replace"), f"{key}_bytes": base64.b64encode(data).decode("ascii")}


def json_text(text: "str | None") -> "str | None":
    """Message text for JSON: a byte that is not UTF-8 becomes U+FFFD (Python's own
    lone-surrogate escapes are not valid text to other readers)."""
    if text is None:
        return None
    return "".join(_bytes_of(c).decode("utf-8", "replace") if unicodedata.category(c) == "Cs" else c
                   for c in text)
