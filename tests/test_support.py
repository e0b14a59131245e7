"""The test support itself: a missing tool or privilege skips a test on a laptop and fails it
under CI (CI=true), whether declared with `@pytest.mark.requires` or found inside the test."""
import conftest  # the kit's tests/conftest.py: its hooks run in the inner sessions below
import pytest
from helpers import wait_for

pytest_plugins = ["pytester"]

INNER = '''
import pytest
from helpers import environment_skip


@pytest.fixture(scope="module")
def costly():
    raise AssertionError("set up although the test's requirement is unmet")


@pytest.mark.requires(False, "no frobnicator here")
def test_declared(costly):
    pass


@pytest.mark.requires(True, "never said")
def test_met():
    pass


def test_found_in_the_test():
    environment_skip("no gadget here")
'''


@pytest.fixture
def inner(pytester):
    pytester.makeini("[pytest]\nmarkers =\n    requires(ok, why): needs a tool or privilege\n")
    pytester.makepyfile(test_inner=INNER)
    return lambda: pytester.runpytest("-rsfE", "--strict-markers", plugins=[conftest])


def test_unmet_requirements_skip_without_ci(inner, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = inner()
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*no frobnicator here*", "*no gadget here*"])


def test_unmet_requirements_fail_under_ci(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = inner()
    result.assert_outcomes(passed=1, failed=1, errors=1)  # the marker fails in setup, before `costly`
    result.stdout.fnmatch_lines(["*no frobnicator here*under CI*", "*no gadget here*under CI*"])
    result.stdout.no_fnmatch_line("*set up although*")


def test_wait_for_answers_or_names_what_it_waited_for():
    calls = []

    def ready():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError  # an OSError: not yet
        return True
    assert wait_for(ready, 5, interval=0.01) is True
    assert wait_for(lambda: False, 0.05) is False
    with pytest.raises(AssertionError, match="the moon"):
        wait_for(lambda: False, 0.05, "the moon")
