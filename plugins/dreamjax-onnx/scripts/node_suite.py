"""Run the official ONNX backend *node* test suite against dreamjax_onnx.backend and count.

A case passes only if it ran and every output matched (shape, dtype, values within the case's
own tolerances); any exception, including "not implemented", is a failure.

    python plugins/dreamjax-onnx/scripts/node_suite.py            # all node cases
    python plugins/dreamjax-onnx/scripts/node_suite.py --ops Conv MaxPool --show-failures
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings

import numpy as np


def node_cases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import onnx.backend.test.loader as loader

        with np.errstate(all="ignore"):
            return loader.load_node_model_tests()


def case_ops(case) -> set[str]:
    return {n.op_type for n in case.model.graph.node}


def spec_view(case, inputs, refs, outs):
    """``refs`` and ``outs`` limited to what the ONNX spec defines, for the cases that need it.

    The suite's expected values for Cast / CastLike are made when it loads, by ``astype`` in the
    *installed* ml_dtypes, so where the spec leaves a result undefined they follow that release
    (ml_dtypes 0.7.0 sends float -9 -> int4 0, older releases 7). Two places differ from the spec:
    * float -> integer with the value outside the integer's range (or NaN / Inf): "undefined if
      OOR" in the Cast spec. Those elements are not compared (both sides take the expected value).
    * NaN -> float4 E2M1: the spec (ONNX's technical note on float4) says +6, whatever ml_dtypes
      gives (it gives -0 or 0); those elements are compared with +6.
    Every other element, case and output is compared as the suite has it.
    """
    import ml_dtypes

    nodes = case.model.graph.node
    if len(nodes) != 1 or nodes[0].op_type not in ("Cast", "CastLike") or len(refs) != 1:
        return refs, outs
    x = np.asarray(inputs[0])
    if not x.dtype.name.startswith(("float", "bfloat")):
        return refs, outs
    xf = x.astype(np.float64)
    ref, out = np.array(refs[0]), np.array(outs[0])
    if ref.dtype.kind in "iu" or ref.dtype.name in ("int4", "uint4", "int2", "uint2"):
        info = ml_dtypes.iinfo(ref.dtype)
        undefined = ~((xf >= info.min) & (xf <= info.max))  # NaN compares False: undefined too
        if out.shape == ref.shape and out.dtype == ref.dtype:  # else the comparison fails anyway
            out[undefined] = ref[undefined]
    elif ref.dtype.name == "float4_e2m1fn":
        ref[np.isnan(xf)] = np.asarray(6.0, ref.dtype)
    return [ref], [out]


def run_case(backend, case) -> str | None:
    """None when the case passes, else a one-line reason."""
    from onnx.backend.test.runner import Runner, _normalize_tensor  # type: ignore[attr-defined]

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = backend.prepare(case.model, "CPU")
            for inputs, ref_outputs in case.data_sets:
                inputs = [_normalize_tensor(i) for i in inputs]
                outs = rep.run(inputs)
                refs, outs = spec_view(case, inputs, [_normalize_tensor(o) for o in ref_outputs], outs)
                Runner.assert_similar_outputs(refs, outs, rtol=case.rtol, atol=case.atol)
    except BaseException as exc:  # noqa: BLE001 - every failure counts as a failure
        if isinstance(exc, KeyboardInterrupt):
            raise
        msg = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {msg[0][:160] if msg else ''}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", nargs="*", help="only cases whose nodes are all of these op types")
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args(argv)
    import dreamjax_onnx.backend as backend

    cases = node_cases()
    if args.ops:
        wanted = set(args.ops)
        cases = [c for c in cases if case_ops(c) <= wanted and case_ops(c) & wanted]
    t0 = time.perf_counter()
    failures = {}
    for case in cases:
        reason = run_case(backend, case)
        if reason is not None:
            failures[case.name] = reason
    passed = len(cases) - len(failures)
    if args.show_failures:
        for name, reason in sorted(failures.items()):
            print(f"FAIL {name}: {reason}")
        kinds = collections.Counter(r.split(":")[0] for r in failures.values())
        print("failure kinds:", dict(kinds.most_common()))
    print(f"passed {passed}/{len(cases)} node cases ({100 * passed / max(len(cases), 1):.1f}%) in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
