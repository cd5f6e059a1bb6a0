"""The markers keep the fast run fast: a test is marked by the fixtures it uses, and one
that starts a Mosquitto without the `broker` marker fails instead of slowing it down."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = "from tests.conftest import *  # noqa: F403\n"


def test_a_test_using_a_broker_or_browser_fixture_is_marked(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_sample="""
        import pytest

        @pytest.fixture
        def hub(broker):
            return broker

        def test_through_a_fixture(hub): ...
        def test_page(browser): ...
        @pytest.mark.parametrize("broker", ["embedded"])
        def test_a_parameter_named_broker(broker): ...
        def test_plain(): ...
        """
    )
    fast = pytester.runpytest("-m", "not broker and not browser", "--collect-only", "-q")
    assert [line for line in fast.outlines if "::" in line] == [
        "test_sample.py::test_a_parameter_named_broker[embedded]",
        "test_sample.py::test_plain",
    ]


def test_a_test_starting_a_mosquitto_unmarked_fails_saying_so(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_sample="""
        from tests.support.mosquitto import Mosquitto

        def test_unmarked(tmp_path):
            Mosquitto(tmp_path).start()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*starts a Mosquitto: mark it `broker`*"])
