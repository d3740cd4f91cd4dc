"""What a batch says it did: a `Result` per input, the summary line and the ``--report``."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..io.sink import write_bytes
from ..names import json_fields, json_text


@dataclass
class Result:
    """What happened to one task; a line of the ``--report``."""

    input: str
    output: str | None  # None for an input settled while planning
    status: str  # "ok", "skipped" or "failed"
    error: str | None = None  # why it failed, or why it was skipped if not for being up to date
    seconds: float = 0.0

    def to_json(self) -> str:
        """The report's line: names that are not UTF-8 as `imgconv.names.json_fields`
        gives them (text, and their bytes in base64 as ``input_bytes``, ``output_bytes``)."""
        import json  # here only: a command without --report has no use for it

        return json.dumps({**json_fields("input", self.input), **json_fields("output", self.output),
                           "status": self.status, "error": json_text(self.error), "seconds": self.seconds})


def summary(results: Sequence[Result]) -> str:
    """``processed N, skipped N, failed N``."""
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    return f"processed {counts['ok']}, skipped {counts['skipped']}, failed {counts['failed']}"


def write_report(results: Iterable[Result], dest: str, sync: bool = True) -> None:
    """One JSON object per line, in task order; ``"-"`` for standard output. ``sync`` as
    for `imgconv.io.sink.write_bytes`."""
    write_bytes("".join(r.to_json() + "\n" for r in results).encode(), dest, sync=sync)
