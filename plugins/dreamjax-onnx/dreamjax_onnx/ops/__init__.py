"""Operator kernels, one module per family; :data:`FAMILIES` is the explicit list the registry reads."""

from . import (
    activation,
    attention,
    constants,
    control,
    conv,
    dropout,
    elementwise,
    indexing,
    linalg,
    loss,
    normalization,
    pool,
    quantize,
    reduce,
    resize,
    sequence,
    shape,
    spectral,
)

FAMILIES = tuple(
    m.T
    for m in (activation, attention, constants, control, conv, dropout, elementwise, indexing, linalg, loss,
              normalization, pool, quantize, reduce, resize, sequence, shape, spectral)
)
