"""Operator kernels, one module per family; :data:`FAMILIES` is the explicit list the registry reads."""

from . import activation, attention, conv, elementwise, linalg, loss, normalization, pool, quantize, reduce, resize, sequence, shape

FAMILIES = tuple(m.T for m in (activation, attention, conv, elementwise, linalg, loss, normalization, pool, quantize, reduce, resize, sequence, shape))
