"""The official harness itself: ``onnx.backend.test.BackendTest(dreamjax_onnx.backend, __name__)``.

One unittest per ONNX node case (CPU), exactly as onnx and onnxruntime run it; failures are
expected where OPERATORS.md lists no kernel, so this module is ``slow`` and informational —
the counted pass rate and its floor live in test_onnx_backend_suite.py. Only node cases run:
the harness's "real model" cases download models, and tests never use the network (they are
generated but skipped by the include pattern). Building the ~4000 generated tests takes long,
so it only happens when asked for:

    DREAMJAX_ONNX_OFFICIAL_SUITE=1 pytest -m slow plugins/dreamjax-onnx/tests/test_onnx_backend_official.py
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import onnx.backend.test
import pytest

import dreamjax_onnx.backend as backend

pytestmark = pytest.mark.slow

if os.environ.get("DREAMJAX_ONNX_OFFICIAL_SUITE") == "1":
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # generating the cases divides by zero on purpose
        from onnx.backend.test.loader import load_node_model_tests

        _names = sorted({case.name for case in load_node_model_tests()})
        _backend_test = onnx.backend.test.BackendTest(backend, __name__)
        _backend_test.include("^(" + "|".join(re.escape(n) for n in _names) + ")_cpu$")
        globals().update(_backend_test.test_cases)
else:

    def test_official_harness_is_opt_in():
        pytest.skip("set DREAMJAX_ONNX_OFFICIAL_SUITE=1 to generate the official BackendTest cases")
