"""Without the oracle packages (Kymatio, SPORCO) only the tests that compare with them skip.

The modules that use an oracle are run by pytest in a subprocess in which ``import kymatio`` and
``import sporco`` fail (a ``-p`` plugin puts ``None`` in ``sys.modules`` before collection). From
its JUnit report: nothing fails, every test listed in ``ORACLE_TESTS`` skips for the oracle, and
every other test runs. A test that starts to use an oracle gets ``@needs_kymatio`` or
``@needs_sporco`` (``tests/_oracles.py``) and its name here.
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from _oracles import REASON

ROOT = Path(__file__).resolve().parents[1]

# the oracle comparisons, per module: the only tests allowed to skip without the oracles
ORACLE_TESTS = {
    "test_scattering1d": {"test_equals_kymatio_float32_and_float64", "test_second_order_batching_is_exact",
                          "test_unaveraged_list_equals_kymatio", "test_meta_and_output_size_match_kymatio",
                          "test_module_conversions_and_state_dict"},
    "test_scattering2d": {"test_equals_kymatio_float32", "test_equals_kymatio_float64",
                          "test_list_output_and_meta_match_kymatio"},
    "test_morlet1d": {"test_matches_kymatio_scattering1d", "test_matches_kymatio_factory",
                      "test_matches_kymatio_factory_random", "test_periodisation_parameters_match_kymatio",
                      "test_padding_matches_kymatio", "test_params_match_kymatio"},
    "test_morlet2d": {"test_filters_equal_kymatio"},
    "test_scattering3d": {"test_equals_kymatio_float32", "test_equals_kymatio_densities_and_lead_dims",
                          "test_bank_equals_kymatio", "test_loads_kymatio_state_dict"},
    "test_csc": {"test_admm_iterates_match_sporco", "test_multichannel_dictionary_matches_sporco",
                 "test_tikhonov_split_matches_sporco"},
}

# installed before pytest collects anything: every import of these packages raises ImportError
_BLOCK = "import sys\nfor _name in ('kymatio', 'sporco'):\n    sys.modules[_name] = None\n"

# torch.compile tests cost 15 s here and import no oracle: left out to keep the run short
_DESELECT = "not compile"


def _outcomes(report: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``{module: {test function: [(outcome, skip message), ...]}}`` from a JUnit report."""
    found: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname").rsplit(".", 1)[-1]
        name = case.get("name").split("[", 1)[0]
        if case.find("failure") is not None or case.find("error") is not None:
            found[module][name].append(("failed", ""))
        elif (skip := case.find("skipped")) is not None:
            found[module][name].append(("skipped", skip.get("message", "")))
        else:
            found[module][name].append(("passed", ""))
    return found


def test_without_oracles_only_oracle_comparisons_skip(tmp_path):
    (tmp_path / "block_oracles.py").write_text(_BLOCK)
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    modules = [f"tests/{m}.py" for m in ORACLE_TESTS]
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "block_oracles", "-p", "no:cacheprovider",
                          "-q", "-k", _DESELECT, f"--junitxml={report}", *modules],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    found = _outcomes(report)
    assert set(found) == set(ORACLE_TESTS), f"modules not collected: {set(ORACLE_TESTS) - set(found)}"
    for module, oracle_tests in ORACLE_TESTS.items():
        tests = found[module]
        assert oracle_tests <= set(tests), f"{module}: unknown oracle tests {oracle_tests - set(tests)}"
        for name, results in tests.items():
            if name in oracle_tests:
                # the comparisons skip, and say why
                assert all(o == "skipped" and REASON in m for o, m in results), (module, name, results)
            else:
                # the rest run; a skip for another cause (no CUDA device here) may not be an oracle's
                assert all(o == "passed" or (o == "skipped" and REASON not in m
                                             and "kymatio" not in m and "sporco" not in m)
                           for o, m in results), (module, name, results)
                assert any(o == "passed" for o, _ in results) or name == "test_cuda_matches_cpu", (module, name)
        assert set(tests) - oracle_tests, f"{module}: no test ran besides the oracle comparisons"
