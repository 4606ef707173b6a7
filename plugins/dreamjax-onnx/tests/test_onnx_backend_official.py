"""The official harness itself: ``onnx.backend.test.BackendTest(dreamjax_onnx.backend)``.

The node cases of the operators issue 3 lists run as the unittest cases onnx generates, exactly
as onnx and onnxruntime run them (the harness's own loading, comparison and tolerances), and
every one must pass. test_onnx_backend_suite.py runs the same cases through the harness's
comparison in the fast suite, and the full sweep with its pass-rate floor; this module checks
that nothing between them and the official runner differs. Building the harness reads all of
onnx's ~4000 generated cases (tens of seconds), so it is ``slow``. Only node cases run: the
harness's "real model" cases download models, and tests never use the network.
"""

from __future__ import annotations

import io
import re
import unittest
import warnings

import numpy as np
import onnx.backend.test
import pytest
from listed_ops import LISTED_OPS

import dreamjax_onnx.backend as backend

pytestmark = pytest.mark.slow


def _node_cases() -> list:
    from onnx.backend.test.loader import load_node_model_tests

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # generating the cases divides by zero on purpose
        return load_node_model_tests()


def test_official_harness_passes_every_node_case_of_the_listed_ops():
    listed = set(LISTED_OPS)
    names = sorted({c.name for c in _node_cases() if {n.op_type for n in c.model.graph.node} <= listed})
    assert len(names) > 400
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        harness = onnx.backend.test.BackendTest(backend, __name__)
    harness.include("^(" + "|".join(re.escape(n) for n in names) + ")_cpu$")
    suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(case) for case in harness.test_cases.values())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the cases' own float edge cases (inf, nan) warn in numpy
        result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    problems = {str(test): reason.strip().splitlines()[-1] for test, reason in result.failures + result.errors}
    assert result.testsRun - len(result.skipped) == len(names), (result.testsRun, len(result.skipped), len(names))
    assert not problems, problems
