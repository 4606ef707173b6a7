"""Operator kernels, one module per family; :data:`FAMILIES` is the explicit list the registry reads."""

from . import activation, conv, elementwise, linalg, normalization, pool, reduce, resize, shape

FAMILIES = tuple(m.T for m in (activation, conv, elementwise, linalg, normalization, pool, reduce, resize, shape))
