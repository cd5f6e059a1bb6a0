#!/usr/bin/env python3
"""A longer, coverage-guided fuzzing run of the MQTT wire contract under atheris.

Every decoder the hub and the firmware run on what arrives over MQTT gets the same input
(tests/contract/test_fuzz_contract.py's `decode_all`); anything but `ContractError` escaping is a
crash, and atheris writes the input that caused it to `crash-<hash>` in the working
directory. Not run in CI (the hypothesis tests are); run it locally after changing
contract/:

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python scripts/fuzz_contract.py -max_total_time=600 fuzz-corpus/

Arguments go to libFuzzer (`-runs=N`, `-max_total_time=S`, a corpus directory to keep
and grow). The corpus starts from valid messages of every kind (docs/security.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import atheris
except ImportError:
    sys.exit("fuzz_contract: atheris is missing: .venv/bin/pip install -e '.[fuzz]'")

with atheris.instrument_imports():
    import contract.alert_state
    import contract.episode_events
    import contract.messages
    import contract.topics  # noqa: F401
    from tests.contract.test_fuzz_contract import VALID, decode_all


def seed(corpus: Path) -> None:
    """Start an empty corpus from one valid message of each kind."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    for kind, message in VALID.items():
        (corpus / f"seed-{kind}").write_bytes(json.dumps(message).encode())
    for extra in (b"online", b"offline", b"ack", b"snooze 15", b"nursery/nursery/reading"):
        (corpus / f"seed-{extra.decode().replace('/', '_').replace(' ', '_')}").write_bytes(extra)


def main() -> None:
    for arg in sys.argv[1:]:
        if not arg.startswith("-"):
            seed(Path(arg))
    atheris.Setup(sys.argv, decode_all)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
