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


def run_case(backend, case) -> str | None:
    """None when the case passes, else a one-line reason."""
    from onnx.backend.test.runner import Runner, _normalize_tensor  # type: ignore[attr-defined]

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = backend.prepare(case.model, "CPU")
            for inputs, ref_outputs in case.data_sets:
                outs = rep.run([_normalize_tensor(i) for i in inputs])
                Runner.assert_similar_outputs(
                    [_normalize_tensor(o) for o in ref_outputs], outs, rtol=case.rtol, atol=case.atol
                )
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
